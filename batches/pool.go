package batches

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/codebox-dev/codebox"
	"github.com/codebox-dev/codebox/errdefs"
)

// maxRetries bounds how often a request the server could not take (Outcome.Retry) is
// tried again before its last refusal becomes its errored result.
const maxRetries = 20

// Run takes back this server's claims from a previous run, then runs the workers and
// the expiry and retention sweeps until ctx ends. Requests running then are put back
// in the queue, to run again at the next start.
func (s *Service) Run(ctx context.Context) error {
	n, err := s.store.ReleaseOwner(ctx, s.cfg.Owner)
	if err != nil {
		return err
	}
	if n > 0 {
		s.cfg.Logger.Info("batch requests interrupted by the last stop queued again", "requests", n)
	}
	g, ctx := errgroup.WithContext(ctx)
	for range s.cfg.Workers {
		g.Go(func() error { s.work(ctx); return nil })
	}
	g.Go(func() error { s.sweep(ctx); return nil })
	return g.Wait()
}

// work claims and runs requests until ctx ends.
func (s *Service) work(ctx context.Context) {
	poll := time.NewTimer(0)
	defer poll.Stop()
	for ctx.Err() == nil {
		c, err := s.claim(ctx)
		if err == nil {
			// More may be waiting: wake an idle worker, which passes the wake on
			// only if it finds work too, so idle workers never wake each other in a
			// loop.
			s.kick()
			s.run(ctx, c)
			s.release(c.Workspace)
			continue
		}
		if !errors.Is(err, errdefs.ErrNotFound) && ctx.Err() == nil {
			s.cfg.Logger.Error("claim batch request", "err", err)
		}
		poll.Reset(s.cfg.Poll)
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-poll.C:
		}
	}
}

// claim takes a request of a workspace that has room, and counts it as running there.
func (s *Service) claim(ctx context.Context) (*Claim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var full []codebox.WorkspaceID
	for ws, n := range s.running {
		if n >= s.cfg.WorkersPerWorkspace {
			full = append(full, ws)
		}
	}
	c, err := s.store.ClaimRequest(ctx, s.cfg.Owner, s.cfg.Now().UTC(), s.cfg.Lease, full)
	if err != nil {
		return nil, err
	}
	s.running[c.Workspace]++
	return c, nil
}

func (s *Service) release(ws codebox.WorkspaceID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[ws]--; s.running[ws] <= 0 {
		delete(s.running, ws)
	}
}

// run executes c, renewing its lease meanwhile, and records the outcome.
func (s *Service) run(ctx context.Context, c *Claim) {
	log := s.cfg.Logger.With("batch", c.BatchID, "custom_id", c.CustomID)
	runCtx, stop := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(s.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				if err := s.store.RenewClaim(runCtx, c, s.cfg.Owner, s.cfg.Now().UTC().Add(s.cfg.Lease)); err != nil && runCtx.Err() == nil {
					log.Warn("renew batch claim", "err", err)
				}
			}
		}
	}()
	out := s.exec.Execute(runCtx, c.Workspace, c.Params)
	stop()
	<-renewed
	// Whatever happens next is written even as the server stops.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	now := s.cfg.Now().UTC()
	// A request cut by the stop runs again at the next start; one that answered
	// before the stop keeps its answer.
	if ctx.Err() != nil && out.Type != Succeeded {
		if err := s.store.ReleaseClaim(wctx, c, s.cfg.Owner, now); err != nil {
			log.Warn("put batch request back", "err", err)
		}
		return
	}
	if out.Retry > 0 && c.Token < maxRetries {
		if err := s.store.ReleaseClaim(wctx, c, s.cfg.Owner, now.Add(out.Retry)); err != nil {
			log.Warn("put batch request back", "err", err)
		}
		return
	}
	typ := out.Type
	if typ != Succeeded {
		typ = Errored
	}
	if err := s.store.FinishRequest(wctx, c, s.cfg.Owner, typ, out.Body, now); err != nil {
		log.Error("record batch result", "err", err)
	}
}

// sweep expires overdue batches and removes those past retention, now and then every
// Sweep.
func (s *Service) sweep(ctx context.Context) {
	t := time.NewTicker(s.cfg.Sweep)
	defer t.Stop()
	for {
		now := s.cfg.Now().UTC()
		if n, err := s.store.ExpireBatches(ctx, now); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("expire batches", "err", err)
		} else if n > 0 {
			s.cfg.Logger.Info("batch requests expired", "requests", n)
		}
		if n, err := s.store.PurgeBatches(ctx, now.Add(-s.cfg.Retention)); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Error("remove batches past retention", "err", err)
		} else if n > 0 {
			s.cfg.Logger.Info("batches past retention removed", "batches", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
