package cluster

import "slices"

// pick returns the node a new container goes to: the live node with the smallest
// share of its capacity in use, this node (self) when shares are equal (no hop), then
// the one with more room, then by name so that every node chooses alike. A node with
// no room left is chosen only when all are full, and then this one, whose admission
// makes room or refuses with a retry-after as a single server does.
func pick(self Node, others []Node) Node {
	best := self
	for _, n := range slices.Concat([]Node{self}, others) {
		if better(n, best, self.Name) {
			best = n
		}
	}
	return best
}

// better reports whether a is a better place for a new container than b.
func better(a, b Node, self string) bool {
	fa, fb := full(a), full(b)
	if fa != fb {
		return fb
	}
	if fa {
		return a.Name == self && b.Name != self
	}
	// Compare a.Running/a.Capacity with b.Running/b.Capacity without division.
	if l, r := a.Running*b.Capacity, b.Running*a.Capacity; l != r {
		return l < r
	}
	if (a.Name == self) != (b.Name == self) {
		return a.Name == self
	}
	if ra, rb := a.Capacity-a.Running, b.Capacity-b.Running; ra != rb {
		return ra > rb
	}
	return a.Name < b.Name
}

func full(n Node) bool { return n.Capacity <= 0 || n.Running >= n.Capacity }
