package testenv

import "sync"

// AtOnce runs f(0) … f(n-1) in n goroutines released together, so that they race for
// whatever they share, and returns their errors by index.
func AtOnce(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}
