package scheduler

import "fmt"

func errNoGenerator(what string) error {
	return fmt.Errorf("scheduler: %s draws noise: Step needs a generator", what)
}
