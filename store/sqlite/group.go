package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// group commits writes that arrive together in one transaction: with
// synchronous=FULL every commit waits for the disk, so a burst of 40 container creates
// committed one by one queues 40 flushes, and committed together waits for one. The
// first writer to arrive leads: it commits what is pending, then whatever arrived
// meanwhile, until nothing is left; the others wait for their result. Each write runs
// in its own savepoint, so that one refused (a duplicate ID) does not undo the others.
type group struct {
	db *sql.DB
	// mu is held while a batch commits, so that the other writes of the same records
	// queue behind it rather than in SQLite's busy handler.
	mu *sync.Mutex

	pendingMu sync.Mutex
	pending   []*groupWrite
	leading   bool
}

type groupWrite struct {
	fn   func(context.Context, *sql.Tx) error
	done chan error
}

// do runs fn in a transaction shared with the writes that arrive at the same time and
// returns its result once that transaction has committed.
func (g *group) do(ctx context.Context, fn func(context.Context, *sql.Tx) error) error {
	w := &groupWrite{fn: fn, done: make(chan error, 1)}
	g.pendingMu.Lock()
	g.pending = append(g.pending, w)
	lead := !g.leading
	g.leading = true
	g.pendingMu.Unlock()
	if lead {
		// The leader commits for others too: its caller's cancel must not fail them.
		g.lead(context.WithoutCancel(ctx))
	}
	return <-w.done
}

func (g *group) lead(ctx context.Context) {
	for {
		g.pendingMu.Lock()
		batch := g.pending
		g.pending = nil
		if len(batch) == 0 {
			g.leading = false
			g.pendingMu.Unlock()
			return
		}
		g.pendingMu.Unlock()
		g.commit(ctx, batch)
	}
}

// commit runs batch in one transaction and tells each write its result.
func (g *group) commit(ctx context.Context, batch []*groupWrite) {
	g.mu.Lock()
	defer g.mu.Unlock()
	errs := make([]error, len(batch))
	err := func() error {
		tx, err := g.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for i, w := range batch {
			if _, err := tx.ExecContext(ctx, `SAVEPOINT write`); err != nil {
				return err
			}
			if errs[i] = w.fn(ctx, tx); errs[i] != nil {
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO write`); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `RELEASE write`); err != nil {
				return err
			}
		}
		return tx.Commit()
	}()
	for i, w := range batch {
		if err != nil {
			errs[i] = err
		}
		w.done <- formatError(errs[i])
	}
}
