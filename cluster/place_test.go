package cluster

import "testing"

func TestPick(t *testing.T) {
	self := Node{Name: "b", Running: 2, Capacity: 10}
	for _, tc := range []struct {
		name   string
		self   Node
		others []Node
		want   string
	}{
		{"alone", self, nil, "b"},
		{"least share", self, []Node{{Name: "a", Running: 1, Capacity: 10}, {Name: "c", Running: 3, Capacity: 10}}, "a"},
		{"share, not count", self, []Node{{Name: "a", Running: 3, Capacity: 30}}, "a"},
		{"tie prefers self", self, []Node{{Name: "a", Running: 4, Capacity: 20}}, "b"},
		{"tie among others: more room", Node{Name: "z", Running: 9, Capacity: 10},
			[]Node{{Name: "c", Running: 1, Capacity: 10}, {Name: "a", Running: 2, Capacity: 20}}, "a"},
		{"tie among others: name", Node{Name: "z", Running: 9, Capacity: 10},
			[]Node{{Name: "c", Running: 1, Capacity: 10}, {Name: "a", Running: 1, Capacity: 10}}, "a"},
		{"full others", self, []Node{{Name: "a", Running: 5, Capacity: 5}, {Name: "c", Running: 0, Capacity: 0}}, "b"},
		{"self full", Node{Name: "b", Running: 10, Capacity: 10}, []Node{{Name: "a", Running: 9, Capacity: 10}}, "a"},
		{"all full: self", Node{Name: "b", Running: 10, Capacity: 10}, []Node{{Name: "a", Running: 1, Capacity: 1}}, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pick(tc.self, tc.others); got.Name != tc.want {
				t.Errorf("pick = %s, want %s", got.Name, tc.want)
			}
		})
	}
}
