package main

import (
	"net"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

func query(t *testing.T, name string, typ dnsmessage.Type) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 0x4242, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestDNSReply(t *testing.T) {
	ip := net.IPv4(10, 77, 1, 5).To4()
	cases := []struct {
		name    string
		typ     dnsmessage.Type
		answers int
	}{
		{"sts.eu-west-1.amazonaws.com.", dnsmessage.TypeA, 1},
		{"blue-mcp.blue-alpha.svc.cluster.local.", dnsmessage.TypeA, 1},
		{"sts.eu-west-1.amazonaws.com.", dnsmessage.TypeAAAA, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name+" "+tc.typ.String(), func(t *testing.T) {
			var p dnsmessage.Parser
			h, err := p.Start(dnsReply(query(t, tc.name, tc.typ), ip))
			if err != nil {
				t.Fatal(err)
			}
			if h.ID != 0x4242 || !h.Response || h.RCode != dnsmessage.RCodeSuccess {
				t.Fatalf("header %+v", h)
			}
			q, err := p.Question()
			if err != nil || q.Name.String() != tc.name || q.Type != tc.typ {
				t.Fatalf("question %+v, %v", q, err)
			}
			_ = p.SkipAllQuestions()
			answers, err := p.AllAnswers()
			if err != nil || len(answers) != tc.answers {
				t.Fatalf("answers %+v, %v; want %d", answers, err, tc.answers)
			}
			if tc.answers == 1 {
				a, ok := answers[0].Body.(*dnsmessage.AResource)
				if !ok || net.IP(a.A[:]).String() != "10.77.1.5" || answers[0].Header.Name.String() != tc.name {
					t.Errorf("answer %+v", answers[0])
				}
			}
		})
	}
}

func TestDNSReplyIgnoresWhatIsNotAQuery(t *testing.T) {
	for name, pkt := range map[string][]byte{
		"short":    {1, 2, 3},
		"response": func() []byte { q := query(t, "a.example.", dnsmessage.TypeA); q[2] |= 0x80; return q }(),
		"truncated question": func() []byte {
			q := query(t, "a.example.", dnsmessage.TypeA)
			return q[:len(q)-3]
		}(),
	} {
		if r := dnsReply(pkt, net.IPv4(1, 2, 3, 4).To4()); r != nil {
			t.Errorf("%s: replied %x", name, r)
		}
	}
}
