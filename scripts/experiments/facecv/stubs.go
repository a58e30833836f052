package main

func (e *env) groups(dir string) error { return nil }
func (e *env) robustness() error       { return nil }
func (e *env) strangers() error        { return nil }
