package dynamotest

// Pid is dynalite's process id, for tests that check it is gone.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// FindNodeModulesFrom runs the node_modules search from dir only.
func FindNodeModulesFrom(dir string) error {
	_, err := findNodeModules(dir)
	return err
}
