package kubelet

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const (
	tokenFileMode = 0o600
	// Like the kubelet's token manager: refresh at 80% of the lifetime, and
	// at least daily.
	tokenRefreshFraction = 0.8
	tokenMaxAge          = 24 * time.Hour
	tokenRetry           = 10 * time.Second
)

// projectedToken is a service account token that must be kept fresh.
type projectedToken struct {
	file string
	src  corev1.ServiceAccountTokenProjection
}

// tokenSchedule is a written token and when to refresh it.
type tokenSchedule struct {
	token projectedToken
	next  time.Time
}

// volumes materializes every pod volume as a directory under the pod's state
// directory (hostPath volumes are the host path itself) and returns each
// volume's directory and the tokens to refresh.
func (w *podWorker) volumes(ctx context.Context, pod *corev1.Pod) (map[string]string, []tokenSchedule, error) {
	dirs := map[string]string{}
	var tokens []tokenSchedule
	for _, v := range pod.Spec.Volumes {
		if v.HostPath != nil {
			dirs[v.Name] = v.HostPath.Path
			continue
		}
		dir := filepath.Join(w.dir, v.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, err
		}
		dirs[v.Name] = dir
		var err error
		switch {
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if err != nil {
					break
				}
				switch {
				case src.ServiceAccountToken != nil:
					t := projectedToken{file: filepath.Join(dir, src.ServiceAccountToken.Path), src: *src.ServiceAccountToken}
					var next time.Time
					if next, err = w.writeToken(ctx, pod, t); err == nil {
						tokens = append(tokens, tokenSchedule{token: t, next: next})
					}
				case src.Secret != nil:
					err = w.writeSecret(ctx, pod, dir, src.Secret.Name, src.Secret.Items, src.Secret.Optional, v.Projected.DefaultMode)
				case src.ConfigMap != nil:
					err = w.writeConfigMap(ctx, pod, dir, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, v.Projected.DefaultMode)
				case src.DownwardAPI != nil:
					err = w.writeDownward(pod, dir, src.DownwardAPI.Items, v.Projected.DefaultMode)
				default:
					w.log.Warn("projected volume source not supported; left out", "volume", v.Name)
				}
			}
		case v.Secret != nil:
			err = w.writeSecret(ctx, pod, dir, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, v.Secret.DefaultMode)
		case v.ConfigMap != nil:
			err = w.writeConfigMap(ctx, pod, dir, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, v.ConfigMap.DefaultMode)
		case v.DownwardAPI != nil:
			err = w.writeDownward(pod, dir, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
		case v.EmptyDir != nil:
		default:
			w.log.Warn("volume type not supported; it is an empty directory", "volume", v.Name)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
	}
	return dirs, tokens, nil
}

// writeToken requests a token bound to the pod and writes it; it returns
// when to refresh it.
func (w *podWorker) writeToken(ctx context.Context, pod *corev1.Pod, t projectedToken) (time.Time, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: t.src.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID},
	}}
	if req.Spec.ExpirationSeconds == nil {
		req.Spec.ExpirationSeconds = ptr.To[int64](3600)
	}
	if t.src.Audience != "" {
		req.Spec.Audiences = []string{t.src.Audience}
	}
	issued := time.Now()
	resp, err := w.k.cs.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return time.Time{}, fmt.Errorf("token for service account %s: %w", sa, err)
	}
	if err := writeFileAtomic(t.file, []byte(resp.Status.Token), tokenFileMode); err != nil {
		return time.Time{}, err
	}
	ttl := resp.Status.ExpirationTimestamp.Sub(issued)
	return issued.Add(min(time.Duration(float64(ttl)*tokenRefreshFraction), tokenMaxAge)), nil
}

// refreshToken rewrites a token file at 80% of each token's lifetime until
// ctx ends.
func (w *podWorker) refreshToken(ctx context.Context, pod *corev1.Pod, t projectedToken, next time.Time) {
	for {
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		n, err := w.writeToken(ctx, pod, t)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("refresh token", "file", t.file, "err", err)
			}
			next = time.Now().Add(tokenRetry)
			continue
		}
		w.log.Debug("token refreshed", "file", t.file, "next", n)
		next = n
	}
}

func (w *podWorker) writeSecret(ctx context.Context, pod *corev1.Pod, dir, name string, items []corev1.KeyToPath, optional *bool, mode *int32) error {
	s, err := w.k.cs.CoreV1().Secrets(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) && ptrTrue(optional) {
			return nil
		}
		return fmt.Errorf("secret %q: %w", name, err)
	}
	return writeKeys(dir, s.Data, items, optional, mode)
}

func (w *podWorker) writeConfigMap(ctx context.Context, pod *corev1.Pod, dir, name string, items []corev1.KeyToPath, optional *bool, mode *int32) error {
	cm, err := w.k.cs.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) && ptrTrue(optional) {
			return nil
		}
		return fmt.Errorf("configmap %q: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	maps.Copy(data, cm.BinaryData)
	return writeKeys(dir, data, items, optional, mode)
}

// writeKeys writes all keys, or the listed items, of a secret or config map.
func writeKeys(dir string, data map[string][]byte, items []corev1.KeyToPath, optional *bool, mode *int32) error {
	if len(items) == 0 {
		for _, k := range slices.Sorted(maps.Keys(data)) {
			items = append(items, corev1.KeyToPath{Key: k, Path: k})
		}
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			if ptrTrue(optional) {
				continue
			}
			return fmt.Errorf("key %q not found", it.Key)
		}
		if err := writeFileAtomic(filepath.Join(dir, it.Path), b, fileMode(it.Mode, mode)); err != nil {
			return err
		}
	}
	return nil
}

func (w *podWorker) writeDownward(pod *corev1.Pod, dir string, items []corev1.DownwardAPIVolumeFile, mode *int32) error {
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = fieldValue(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			v, err = resourceValue(pod, nil, it.ResourceFieldRef)
		}
		if err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(dir, it.Path), []byte(v), fileMode(it.Mode, mode)); err != nil {
			return err
		}
	}
	return nil
}

func fileMode(item, def *int32) fs.FileMode {
	switch {
	case item != nil:
		return fs.FileMode(*item) & fs.ModePerm
	case def != nil:
		return fs.FileMode(*def) & fs.ModePerm
	}
	return 0o644
}

// writeFileAtomic replaces a file in one step, so a reader never sees a
// half-written token.
func writeFileAtomic(file string, b []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+strings.TrimPrefix(filepath.Base(file), ".")+".tmp-")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
