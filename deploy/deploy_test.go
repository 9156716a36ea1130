// Package deploy holds no code: its tests check the deployment files the
// way an operator relies on them. The compose file is loaded with the
// compose-spec library and the Kubernetes manifests are decoded strictly
// into k8s.io/api types, so a misspelt field fails here, not in a cluster.
package deploy

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/dsar-project/dsar/internal/config"
)

// subcommands runs the real binary's help and lists its commands, so the
// manifests are checked against what dsar accepts today.
func subcommands(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "run", "../cmd/dsar", "help").Output()
	if err != nil {
		t.Fatalf("dsar help: %v", err)
	}
	var cmds []string
	for _, m := range regexp.MustCompile(`(?m)^  dsar (\w+)`).FindAllStringSubmatch(string(out), -1) {
		cmds = append(cmds, m[1])
	}
	if !slices.Contains(cmds, "serve") {
		t.Fatalf("no commands read from dsar help:\n%s", out)
	}
	return cmds
}

// knownVariables are the environment variables dsar reads.
func knownVariables(t *testing.T) map[string]bool {
	t.Helper()
	c, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	c.Print(&b)
	vars := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		name, _, _ := strings.Cut(line, "=")
		vars[name] = true
	}
	return vars
}

func envExample(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf(".env.example: %q is not NAME=value", line)
		}
		vars[k] = v
	}
	return vars
}

func loadCompose(t *testing.T, profiles ...string) *types.Project {
	t.Helper()
	env := envExample(t)
	env["DSAR_SECRET_KEY"] = "a-secret-key-long-enough-for-the-checks-0123"
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  ".",
		ConfigFiles: []types.ConfigFile{{Filename: "compose.yaml"}},
		Environment: env,
	}, func(o *loader.Options) {
		o.SetProjectName("dsar", true)
		o.Profiles = profiles
	})
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return p
}

func TestComposeFile(t *testing.T) {
	p := loadCompose(t)
	cmds := subcommands(t)
	known := knownVariables(t)

	for _, name := range []string{"postgresql", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui", "migrate", "web", "worker"} {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("service %s: %v", name, err)
		}
	}
	if _, err := p.GetService("mailcatcher"); err == nil {
		t.Error("the mail catcher runs without the staging profile")
	}
	if _, err := loadCompose(t, "staging").GetService("mailcatcher"); err != nil {
		t.Errorf("staging profile: %v", err)
	}

	image := ""
	for _, name := range []string{"migrate", "web", "worker"} {
		s, _ := p.GetService(name)
		if image == "" {
			image = s.Image
		}
		if s.Image != image {
			t.Errorf("%s runs image %s, others %s: one image for every role", name, s.Image, image)
		}
		if len(s.Command) == 0 || !slices.Contains(cmds, s.Command[0]) {
			t.Errorf("%s runs %v, not a dsar command (%v)", name, s.Command, cmds)
		}
		if !s.ReadOnly || s.User == "" || strings.HasPrefix(s.User, "0") || s.User == "root" {
			t.Errorf("%s: read_only=%v user=%q; want a read-only root filesystem and a non-root user", name, s.ReadOnly, s.User)
		}
		for k := range s.Environment {
			if !known[k] {
				t.Errorf("%s sets %s, which dsar does not read", name, k)
			}
		}
		for _, k := range []string{"DSAR_DATABASE_URL", "TEMPORAL_ADDRESS", "SENDGRID_API_KEY", "DSAR_SECRET_KEY", "DSAR_BASE_URL"} {
			if v := s.Environment[k]; v == nil {
				t.Errorf("%s does not set %s", name, k)
			}
		}
	}

	for _, name := range []string{"web", "worker"} {
		s, _ := p.GetService(name)
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Test[1] != "/usr/local/bin/dsar" {
			t.Errorf("%s has no health check through `dsar health`: %+v", name, s.HealthCheck)
		}
		for dep, cond := range map[string]string{"migrate": types.ServiceConditionCompletedSuccessfully, "temporal-namespace": types.ServiceConditionCompletedSuccessfully} {
			if d, ok := s.DependsOn[dep]; !ok || d.Condition != cond {
				t.Errorf("%s should wait for %s to complete: %+v", name, dep, s.DependsOn)
			}
		}
	}
	w, _ := p.GetService("worker")
	if w.Deploy == nil || w.Deploy.Replicas == nil || *w.Deploy.Replicas < 2 {
		t.Error("the worker should run at least two replicas")
	}
	m, _ := p.GetService("migrate")
	if d, ok := m.DependsOn["postgresql"]; !ok || d.Condition != types.ServiceConditionHealthy {
		t.Errorf("migrate should wait for a healthy PostgreSQL: %+v", m.DependsOn)
	}
	tmp, _ := p.GetService("temporal")
	if d, ok := tmp.DependsOn["temporal-schema"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("Temporal should wait for its schema: %+v", tmp.DependsOn)
	}
}

// TestEnvExampleCoversCompose: every ${VAR} the compose file reads is in
// the example, so an operator copying it misses nothing.
func TestEnvExampleCoversCompose(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := envExample(t)
	for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)`).FindAllStringSubmatch(string(b), -1) {
		if _, ok := env[m[1]]; !ok {
			t.Errorf("compose.yaml reads %s, which .env.example does not list", m[1])
		}
	}
}

// manifests decodes every document under k8s/ strictly into its type.
type manifests struct {
	deployments map[string]*appsv1.Deployment
	jobs        map[string]*batchv1.Job
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	ingresses   []*networkingv1.Ingress
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m := &manifests{
		deployments: map[string]*appsv1.Deployment{}, jobs: map[string]*batchv1.Job{},
		services: map[string]*corev1.Service{}, configMaps: map[string]*corev1.ConfigMap{},
		secrets: map[string]*corev1.Secret{},
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			if strings.TrimSpace(doc) == "" {
				continue
			}
			var head struct{ Kind string }
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s #%d: %v", file, i, err)
			}
			var obj any
			switch head.Kind {
			case "Deployment":
				obj = &appsv1.Deployment{}
			case "Job":
				obj = &batchv1.Job{}
			case "Service":
				obj = &corev1.Service{}
			case "ConfigMap":
				obj = &corev1.ConfigMap{}
			case "Secret":
				obj = &corev1.Secret{}
			case "Namespace":
				obj = &corev1.Namespace{}
			case "Ingress":
				obj = &networkingv1.Ingress{}
			case "PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			case "HorizontalPodAutoscaler":
				obj = &autoscalingv2.HorizontalPodAutoscaler{}
			default:
				t.Fatalf("%s #%d: kind %q is not checked by this test", file, i, head.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s #%d (%s): %v", file, i, head.Kind, err)
			}
			switch o := obj.(type) {
			case *appsv1.Deployment:
				m.deployments[o.Name] = o
			case *batchv1.Job:
				m.jobs[o.Name] = o
			case *corev1.Service:
				m.services[o.Name] = o
			case *corev1.ConfigMap:
				m.configMaps[o.Name] = o
			case *corev1.Secret:
				m.secrets[o.Name] = o
			case *networkingv1.Ingress:
				m.ingresses = append(m.ingresses, o)
			case *policyv1.PodDisruptionBudget:
				m.pdbs = append(m.pdbs, o)
			case *autoscalingv2.HorizontalPodAutoscaler:
				m.hpas = append(m.hpas, o)
			}
		}
	}
	return m
}

// checkPod asserts what every dsar pod needs: a dsar command, no root, a
// read-only root filesystem, limits, and configuration that exists.
func checkPod(t *testing.T, m *manifests, name string, spec corev1.PodSpec, cmds []string, known map[string]bool, wantProbes bool) {
	t.Helper()
	if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("%s: the pod must run as a non-root user", name)
	}
	for _, c := range spec.Containers {
		where := name + "/" + c.Name
		if len(c.Args) == 0 || !slices.Contains(cmds, c.Args[0]) {
			t.Errorf("%s runs %v, not a dsar command (%v)", where, c.Args, cmds)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: set CPU and memory requests and a memory limit", where)
		}
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: want a read-only root filesystem and no privilege escalation", where)
		}
		if wantProbes {
			if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
				t.Errorf("%s: liveness probe should be GET /healthz", where)
			}
			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Errorf("%s: readiness probe should be GET /readyz", where)
			}
		}
		var keys []string
		for _, from := range c.EnvFrom {
			switch {
			case from.ConfigMapRef != nil:
				cm, ok := m.configMaps[from.ConfigMapRef.Name]
				if !ok {
					t.Errorf("%s reads ConfigMap %s, which no manifest defines", where, from.ConfigMapRef.Name)
					continue
				}
				for k := range cm.Data {
					keys = append(keys, k)
				}
			case from.SecretRef != nil:
				s, ok := m.secrets[from.SecretRef.Name]
				if !ok {
					t.Errorf("%s reads Secret %s, which the example does not define", where, from.SecretRef.Name)
					continue
				}
				for k := range s.StringData {
					keys = append(keys, k)
				}
			}
		}
		for _, k := range keys {
			if !known[k] {
				t.Errorf("%s is given %s, which dsar does not read", where, k)
			}
		}
		for _, k := range []string{"DSAR_DATABASE_URL", "SENDGRID_API_KEY", "DSAR_SECRET_KEY", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "DSAR_BASE_URL"} {
			if !slices.Contains(keys, k) {
				t.Errorf("%s is not given %s", where, k)
			}
		}
	}
}

func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	cmds := subcommands(t)
	known := knownVariables(t)

	for _, k := range []string{"DSAR_DATABASE_URL", "SENDGRID_API_KEY", "DSAR_SECRET_KEY"} {
		if _, ok := m.secrets["dsar-secrets"].StringData[k]; !ok {
			t.Errorf("secret.example.yaml lacks %s", k)
		}
		if _, ok := m.configMaps["dsar-config"].Data[k]; ok {
			t.Errorf("%s is a secret and must not be in the ConfigMap", k)
		}
	}

	want := map[string]string{"dsar-web": "serve", "dsar-worker": "worker"}
	for name, cmd := range want {
		d, ok := m.deployments[name]
		if !ok {
			t.Errorf("no Deployment %s", name)
			continue
		}
		checkPod(t, m, name, d.Spec.Template.Spec, cmds, known, true)
		if got := d.Spec.Template.Spec.Containers[0].Args[0]; got != cmd {
			t.Errorf("%s runs %s, want %s", name, got, cmd)
		}
		for k, v := range d.Spec.Selector.MatchLabels {
			if d.Spec.Template.Labels[k] != v {
				t.Errorf("%s: selector %s=%s does not match its pods", name, k, v)
			}
		}
	}
	job, ok := m.jobs["dsar-migrate"]
	if !ok {
		t.Fatal("no migrate Job")
	}
	checkPod(t, m, "dsar-migrate", job.Spec.Template.Spec, cmds, known, false)
	if job.Spec.Template.Spec.Containers[0].Args[0] != "migrate" {
		t.Error("the migrate Job does not run dsar migrate")
	}
	image := m.deployments["dsar-web"].Spec.Template.Spec.Containers[0].Image
	for _, spec := range []corev1.PodSpec{m.deployments["dsar-worker"].Spec.Template.Spec, job.Spec.Template.Spec} {
		if spec.Containers[0].Image != image {
			t.Errorf("image %s differs from the web's %s: one image for every role", spec.Containers[0].Image, image)
		}
	}

	// Selectors and references point at something real.
	matches := func(sel map[string]string) string {
		for name, d := range m.deployments {
			ok := len(sel) > 0
			for k, v := range sel {
				ok = ok && d.Spec.Template.Labels[k] == v
			}
			if ok {
				return name
			}
		}
		return ""
	}
	if svc, ok := m.services["dsar-web"]; !ok || matches(svc.Spec.Selector) != "dsar-web" {
		t.Error("Service dsar-web does not select the web pods")
	}
	for _, ing := range m.ingresses {
		for _, rule := range ing.Spec.Rules {
			for _, path := range rule.HTTP.Paths {
				if _, ok := m.services[path.Backend.Service.Name]; !ok {
					t.Errorf("Ingress %s routes to missing Service %s", ing.Name, path.Backend.Service.Name)
				}
			}
		}
	}
	covered := map[string]bool{}
	for _, pdb := range m.pdbs {
		name := matches(pdb.Spec.Selector.MatchLabels)
		if name == "" {
			t.Errorf("PodDisruptionBudget %s selects no Deployment", pdb.Name)
		}
		covered[name] = true
	}
	for name := range want {
		if !covered[name] {
			t.Errorf("%s has no PodDisruptionBudget", name)
		}
	}
	scaled := false
	for _, h := range m.hpas {
		if _, ok := m.deployments[h.Spec.ScaleTargetRef.Name]; !ok || h.Spec.ScaleTargetRef.Kind != "Deployment" {
			t.Errorf("HorizontalPodAutoscaler %s targets missing %s", h.Name, h.Spec.ScaleTargetRef.Name)
		}
		scaled = scaled || h.Spec.ScaleTargetRef.Name == "dsar-worker"
	}
	if !scaled {
		t.Error("workers have no HorizontalPodAutoscaler")
	}
}
