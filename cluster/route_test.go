package cluster

import "testing"

func TestMessageContainer(t *testing.T) {
	for _, tc := range []struct {
		body  string
		id    string
		place bool
	}{
		{`{"container":"container_1","tools":[{"type":"code_execution_20250825","name":"code_execution"}]}`, "container_1", false},
		{`{"container":{"id":"container_2","skills":[{"type":"anthropic","skill_id":"xlsx"}]}}`, "container_2", false},
		{`{"container":{"skills":[]},"tools":[{"type":"code_execution_20260120"}]}`, "", true},
		{`{"tools":[{"type":"custom","name":"f"},{"type":"code_execution_20250522"}]}`, "", true},
		{`{"tools":[{"type":"custom","name":"f"}]}`, "", false},
		{`{"container":null,"messages":[]}`, "", false},
		{`not json`, "", false},
	} {
		id, place := messageContainer([]byte(tc.body))
		if id != tc.id || place != tc.place {
			t.Errorf("messageContainer(%s) = %q, %v; want %q, %v", tc.body, id, place, tc.id, tc.place)
		}
	}
}
