package fault

import (
	"context"
	"time"
)

// Run applies a schedule in real time: each action when its time since
// start has come. Errors of single actions (no leader known, say) go to
// report, if set, and do not stop the schedule; Run returns when the last
// action has run or ctx ends.
func Run(ctx context.Context, s Schedule, inj Injector, start time.Time, report func(Action, error)) error {
	for _, a := range s {
		wait := time.Until(start.Add(a.At))
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if err := a.Apply(inj); err != nil && report != nil {
			report(a, err)
		} else if report != nil {
			report(a, nil)
		}
	}
	return nil
}
