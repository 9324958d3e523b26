package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/codebox-dev/codebox/api"
	"github.com/codebox-dev/codebox/blobs/s3"
)

// deployDir holds the Kubernetes manifests docs/deploy.md describes.
const deployDir = "../../deploy/kubernetes"

// kustomization is the part of kustomize's Kustomization the manifests use; strict
// decoding makes any other field fail the test, so a new one is added here on purpose.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
	Patches    []struct {
		Path string `json:"path"`
	} `json:"patches,omitempty"`
}

// manifests are the objects of one kustomization, decoded strictly into the Kubernetes
// API types: a misspelt or misplaced field fails.
type manifests struct {
	dir         string
	namespace   *corev1.Namespace
	account     *corev1.ServiceAccount
	config      *corev1.ConfigMap
	statefulSet *appsv1.StatefulSet
	services    map[string]*corev1.Service
	pdb         *policyv1.PodDisruptionBudget
	patches     []*corev1.ConfigMap
	namespaced  []string // "Kind/name" of objects outside the kustomization's namespace
}

func readKustomization(t *testing.T, dir string) kustomization {
	t.Helper()
	var k kustomization
	strictDecode(t, filepath.Join(dir, "kustomization.yaml"), &k)
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Fatalf("%s: %s %s is not a Kustomization", dir, k.APIVersion, k.Kind)
	}
	return k
}

func strictDecode(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("\n---")) {
		t.Fatalf("%s: one object per file", path)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// loadManifests decodes the kustomization in dir with its bases.
func loadManifests(t *testing.T, dir string) *manifests {
	t.Helper()
	m := &manifests{dir: dir, services: map[string]*corev1.Service{}}
	m.load(t, dir)
	return m
}

func (m *manifests) load(t *testing.T, dir string) {
	k := readKustomization(t, dir)
	for _, r := range k.Resources {
		path := filepath.Join(dir, r)
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			m.load(t, path)
			continue
		}
		m.decode(t, path, k.Namespace)
	}
	for _, p := range k.Patches {
		var cm corev1.ConfigMap
		strictDecode(t, filepath.Join(dir, p.Path), &cm)
		if cm.Kind != "ConfigMap" {
			t.Errorf("%s: only ConfigMap patches are checked, not %s", p.Path, cm.Kind)
		}
		m.patches = append(m.patches, &cm)
	}
}

func (m *manifests) decode(t *testing.T, path, namespace string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(b, &meta); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if meta.Kind != "Namespace" && meta.Metadata.Namespace != namespace {
		m.namespaced = append(m.namespaced, meta.Kind+"/"+meta.Metadata.Name)
	}
	switch meta.Kind {
	case "Namespace":
		m.namespace = &corev1.Namespace{}
		strictDecode(t, path, m.namespace)
	case "ServiceAccount":
		m.account = &corev1.ServiceAccount{}
		strictDecode(t, path, m.account)
	case "ConfigMap":
		m.config = &corev1.ConfigMap{}
		strictDecode(t, path, m.config)
	case "StatefulSet":
		m.statefulSet = &appsv1.StatefulSet{}
		strictDecode(t, path, m.statefulSet)
	case "Service":
		s := &corev1.Service{}
		strictDecode(t, path, s)
		m.services[s.Name] = s
	case "PodDisruptionBudget":
		m.pdb = &policyv1.PodDisruptionBudget{}
		strictDecode(t, path, m.pdb)
	default:
		t.Fatalf("%s: kind %q is not checked by this test", path, meta.Kind)
	}
}

// TestKubernetesFiles: every manifest in the directory is either in the kustomization
// or the example Secret, so none is left unchecked.
func TestKubernetesFiles(t *testing.T) {
	for _, dir := range []string{deployDir, filepath.Join(deployDir, "runsc")} {
		k := readKustomization(t, dir)
		listed := map[string]bool{"kustomization.yaml": true, "secret.example.yaml": true}
		for _, r := range k.Resources {
			listed[r] = true
		}
		for _, p := range k.Patches {
			listed[p.Path] = true
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() && !listed[e.Name()] {
				t.Errorf("%s/%s is in no kustomization", dir, e.Name())
			}
		}
	}
}

// TestKubernetesManifests decodes the manifests into the Kubernetes API types and checks
// what a deployment depends on: the objects refer to each other correctly, the command,
// flags and environment are ones `codebox serve` knows and accepts, the probes reach
// the server's routes, the Secret keys exist, and the grace period covers the drain.
func TestKubernetesManifests(t *testing.T) {
	for _, dir := range []string{deployDir, filepath.Join(deployDir, "runsc")} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := loadManifests(t, dir)
			if m.namespace == nil || m.account == nil || m.config == nil || m.statefulSet == nil || m.pdb == nil {
				t.Fatal("a Namespace, ServiceAccount, ConfigMap, StatefulSet and PodDisruptionBudget are expected")
			}
			if len(m.namespaced) > 0 {
				t.Errorf("outside namespace %s: %v", m.namespace.Name, m.namespaced)
			}
			config := maps(m.config.Data)
			for _, p := range m.patches {
				if p.Name != m.config.Name {
					t.Errorf("patch of ConfigMap %s, which is not in the kustomization", p.Name)
				}
				for k, v := range p.Data {
					config[k] = v
				}
			}
			checkStatefulSet(t, m, config)
		})
	}
}

func maps(in map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		out[k] = v
	}
	return out
}

func checkStatefulSet(t *testing.T, m *manifests, config map[string]string) {
	ss := m.statefulSet
	pod := ss.Spec.Template.Spec
	labels := ss.Spec.Template.Labels
	if !matches(ss.Spec.Selector.MatchLabels, labels) {
		t.Errorf("the StatefulSet's selector %v does not select its pods %v", ss.Spec.Selector.MatchLabels, labels)
	}
	if !matches(m.pdb.Spec.Selector.MatchLabels, labels) {
		t.Errorf("the PodDisruptionBudget's selector %v does not select the pods %v", m.pdb.Spec.Selector.MatchLabels, labels)
	}
	governing, ok := m.services[ss.Spec.ServiceName]
	if !ok || governing.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("serviceName %q is not a headless Service of the kustomization", ss.Spec.ServiceName)
	} else if !governing.Spec.PublishNotReadyAddresses {
		t.Error("the headless Service must publish not-ready pods: a draining node still serves forwarded requests")
	}
	clients := 0
	for name, s := range m.services {
		if !matches(s.Spec.Selector, labels) {
			t.Errorf("Service %s selects %v, not the pods %v", name, s.Spec.Selector, labels)
		}
		if s.Spec.ClusterIP != corev1.ClusterIPNone {
			clients++
		}
	}
	if clients != 1 {
		t.Errorf("%d client Services, want 1", clients)
	}
	if pod.ServiceAccountName != m.account.Name {
		t.Errorf("serviceAccountName %q, want %q", pod.ServiceAccountName, m.account.Name)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want the codebox one", len(pod.Containers))
	}
	c := pod.Containers[0]
	if entry := dockerEntrypoint(t); !slices.Equal(c.Command, entry) {
		t.Errorf("command %q, want the image's entrypoint %q", c.Command, entry)
	}
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Fatalf("args %q, want serve", c.Args)
	}
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Error("the codebox container must be privileged (mounts, loop devices, cgroups, namespaces)")
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil || ef.ConfigMapRef.Name != m.config.Name {
			t.Errorf("envFrom %+v is not the kustomization's ConfigMap", ef)
		}
	}

	env := checkEnv(t, c, config)
	serve := newServeCmd()
	if err := serve.Flags().Parse(c.Args[1:]); err != nil {
		t.Errorf("args %q: %v", c.Args, err)
	}
	checkPorts(t, c, env)
	checkProbes(t, c)
	checkVolumes(t, ss, c, env)
	checkGrace(t, pod, env)
	checkResources(t, c, env)
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// dockerEntrypoint is the exec-form ENTRYPOINT of the node image.
func dockerEntrypoint(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/container/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "ENTRYPOINT "); ok {
			var entry []string
			if err := json.Unmarshal([]byte(rest), &entry); err != nil {
				t.Fatalf("ENTRYPOINT %s: %v", rest, err)
			}
			return entry
		}
	}
	t.Fatal("the Dockerfile has no ENTRYPOINT")
	return nil
}

// envRef is a $(NAME) reference in an env value, which the kubelet expands.
var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// examplePod is what the downward API gives the env values that refer to it.
var examplePod = map[string]string{"POD_NAME": "codebox-0", "POD_IP": "10.0.0.7"}

// checkEnv checks that every variable the container gets is the twin of a serve flag
// (or one a flag also reads, or a helper another value refers to) and that the flag
// accepts its value, and that every Secret key it reads is in secret.example.yaml. It
// returns the variables as the server sees them.
func checkEnv(t *testing.T, c corev1.Container, config map[string]string) map[string]string {
	t.Helper()
	var secret corev1.Secret
	strictDecode(t, filepath.Join(deployDir, "secret.example.yaml"), &secret)

	serveFlags := newServeCmd().Flags()
	twins := map[string]*pflag.Flag{}
	serveFlags.VisitAll(func(f *pflag.Flag) {
		twins[envName(f.Name)] = f
		for _, v := range f.Annotations["env"] {
			twins[v] = f
		}
	})
	referenced := map[string]bool{}
	env := maps(config)
	for _, e := range c.Env {
		for _, ref := range envRef.FindAllStringSubmatch(e.Value, -1) {
			referenced[ref[1]] = true
		}
	}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("%s is set twice", e.Name)
		}
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := secret.StringData[ref.Key]
			if ref.Name != secret.Name || !ok {
				t.Errorf("%s reads key %q of Secret %s, which secret.example.yaml (%s) lacks", e.Name, ref.Key, ref.Name, secret.Name)
			}
			env[e.Name] = v
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			env[e.Name] = examplePod[e.Name]
		case e.ValueFrom != nil:
			t.Errorf("%s: only Secret keys and pod fields are checked", e.Name)
		default:
			env[e.Name] = envRef.ReplaceAllStringFunc(e.Value, func(s string) string {
				v, ok := env[envRef.FindStringSubmatch(s)[1]]
				if !ok {
					t.Errorf("%s refers to %s, which is not set before it", e.Name, s)
				}
				return v
			})
		}
	}
	bucketVars := checkBlobs(t, env)
	for name, v := range env {
		f, ok := twins[name]
		if !ok {
			if !referenced[name] && !bucketVars[name] {
				t.Errorf("%s is no `codebox serve` flag's variable, nor one the S3 driver reads", name)
			}
			continue
		}
		// A fresh flag set for each value, so one value cannot hide another's error.
		fresh := newServeCmd().Flags().Lookup(f.Name)
		if err := fresh.Value.Set(v); err != nil {
			t.Errorf("%s=%q: --%s refuses it: %v", name, v, f.Name, err)
		}
	}
	return env
}

// checkBlobs opens CODEBOX_BLOBS as the server does, with the credentials the manifests
// give, and returns the variables the S3 driver looked up.
func checkBlobs(t *testing.T, env map[string]string) map[string]bool {
	t.Helper()
	asked := map[string]bool{}
	o, err := s3.ParseURL(env["CODEBOX_BLOBS"], func(name string) string {
		asked[name] = true
		return env[name]
	})
	if err != nil {
		t.Errorf("CODEBOX_BLOBS with the manifests' credentials: %v", err)
	} else if o.AccessKey != env["CODEBOX_S3_ACCESS_KEY"] || o.SecretKey != env["CODEBOX_S3_SECRET_KEY"] {
		t.Error("the S3 driver does not take the credentials from CODEBOX_S3_ACCESS_KEY and CODEBOX_S3_SECRET_KEY")
	}
	return asked
}

func checkPorts(t *testing.T, c corev1.Container, env map[string]string) {
	t.Helper()
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" {
		t.Fatalf("ports %+v, want one named http", c.Ports)
	}
	port := fmt.Sprint(c.Ports[0].ContainerPort)
	if listen := env["CODEBOX_LISTEN"]; listen != "0.0.0.0:"+port {
		t.Errorf("CODEBOX_LISTEN=%q, want 0.0.0.0:%s (all of the pod's addresses, the container port)", listen, port)
	}
	if adv := env["CODEBOX_ADVERTISE_URL"]; adv != "http://"+examplePod["POD_IP"]+":"+port {
		t.Errorf("CODEBOX_ADVERTISE_URL=%q, want the pod's IP and port %s", adv, port)
	}
}

// checkProbes asks the API server the manifests run for each probe's path: /livez must
// answer 200, /readyz 200 when its (here no) checks pass.
func checkProbes(t *testing.T, c corev1.Container) {
	t.Helper()
	srv := api.New(api.Config{Logger: slog.New(slog.DiscardHandler)})
	probes := map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe}
	want := map[string]string{"startup": "/livez", "liveness": "/livez", "readiness": "/readyz"}
	for kind, p := range probes {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", kind)
			continue
		}
		if p.HTTPGet.Path != want[kind] {
			t.Errorf("%s probe on %s, want %s", kind, p.HTTPGet.Path, want[kind])
		}
		if p.HTTPGet.Port.String() != c.Ports[0].Name {
			t.Errorf("%s probe on port %s, want %s", kind, p.HTTPGet.Port.String(), c.Ports[0].Name)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", p.HTTPGet.Path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("%s probe: GET %s answers %d without a key: %s", kind, p.HTTPGet.Path, rec.Code, rec.Body)
		}
	}
}

func checkVolumes(t *testing.T, ss *appsv1.StatefulSet, c corev1.Container, env map[string]string) {
	t.Helper()
	volumes := map[string]bool{}
	for _, v := range ss.Spec.Template.Spec.Volumes {
		volumes[v.Name] = true
	}
	for _, v := range ss.Spec.VolumeClaimTemplates {
		volumes[v.Name] = true
	}
	mounts := map[string]string{}
	for _, vm := range c.VolumeMounts {
		if !volumes[vm.Name] {
			t.Errorf("mount of %s, which is no volume", vm.Name)
		}
		mounts[vm.MountPath] = vm.Name
	}
	if name := mounts[env["CODEBOX_DATA_DIR"]]; name == "" {
		t.Errorf("CODEBOX_DATA_DIR=%q is not a mounted volume", env["CODEBOX_DATA_DIR"])
	}
	for _, path := range []string{"/dev", "/sys/fs/cgroup"} {
		if mounts[path] == "" {
			t.Errorf("the host's %s is not mounted", path)
		}
	}
}

// checkGrace: the kubelet must not kill a node before its drain, the requests in
// flight and the parts' stop (runServe's 30 s) are over.
func checkGrace(t *testing.T, pod corev1.PodSpec, env map[string]string) {
	t.Helper()
	serve := newServeCmd().Flags()
	for _, flag := range []string{"shutdown-drain", "shutdown-timeout"} {
		if v, ok := env[envName(flag)]; ok {
			if err := serve.Set(flag, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	drain, _ := serve.GetDuration("shutdown-drain")
	timeout, _ := serve.GetDuration("shutdown-timeout")
	need := drain + timeout + 30*time.Second
	if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second < need {
		t.Errorf("terminationGracePeriodSeconds %v, want at least %v", pod.TerminationGracePeriodSeconds, need)
	}
}

// checkResources: requests within limits, and the memory request reserves what the
// sandboxes may use together.
func checkResources(t *testing.T, c corev1.Container, env map[string]string) {
	t.Helper()
	req, lim := c.Resources.Requests, c.Resources.Limits
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := req[name]; !ok {
			t.Errorf("no %s request", name)
		}
	}
	for name, l := range lim {
		if r, ok := req[name]; ok && r.Cmp(l) > 0 {
			t.Errorf("%s request %s above its limit %s", name, r.String(), l.String())
		}
	}
	total, ok := env["CODEBOX_SANDBOX_TOTAL_MEMORY"]
	if !ok {
		t.Fatal("CODEBOX_SANDBOX_TOTAL_MEMORY is not set: the default follows the host, not the pod")
	}
	serve := newServeCmd().Flags()
	if err := serve.Set("sandbox-total-memory", total); err != nil {
		t.Fatal(err)
	}
	sandboxes := *resource.NewQuantity(int64(serve.Lookup("sandbox-total-memory").Value.(*binarySize).byteSize), resource.BinarySI)
	if mem := req[corev1.ResourceMemory]; mem.Cmp(sandboxes) <= 0 {
		t.Errorf("memory request %s does not cover the sandboxes' %s and the server", mem.String(), total)
	}
}
