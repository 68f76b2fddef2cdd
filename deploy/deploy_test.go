// Package deploy_test checks the container and orchestration files in
// deploy/ without a container engine: the Compose file and the Kubernetes
// manifests must parse, and agree with the configuration format (node IDs,
// zones, addresses and ports) and with the flags the paxi command accepts.
package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
)

// ---- the paxi command's flags ----

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// flagsOf returns the flags "paxi <command> -h" lists, building the command
// once per test binary: the manifests must use only flags it accepts.
func flagsOf(t *testing.T, command string) map[string]bool {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "paxi-deploy-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "paxi")
		if out, err := exec.Command("go", "build", "-o", binPath, "../bin/paxi").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	var out bytes.Buffer
	cmd := exec.Command(binPath, command, "-h")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("paxi %s -h: %v\n%s", command, err, out.String())
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-zA-Z0-9-]+)`).FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = true
	}
	if len(flags) == 0 {
		t.Fatalf("paxi %s -h lists no flags:\n%s", command, out.String())
	}
	return flags
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// invocation is a container's command line after the entrypoint "paxi".
type invocation struct {
	command string
	flags   map[string]string
}

// parseArgs reads ["server", "-id", "1.1", ...]: every flag the manifests
// use takes a value.
func parseArgs(args []string) (invocation, error) {
	if len(args) == 0 {
		return invocation{}, errors.New("no command")
	}
	inv := invocation{command: args[0], flags: map[string]string{}}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			return inv, fmt.Errorf("argument %q is not a flag", a)
		}
		name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !ok {
			if i+1 == len(args) {
				return inv, fmt.Errorf("flag %s has no value", a)
			}
			i++
			value = args[i]
		}
		if _, dup := inv.flags[name]; dup {
			return inv, fmt.Errorf("flag -%s given twice", name)
		}
		inv.flags[name] = value
	}
	return inv, nil
}

// checkInvocation checks a command line against the flags the command
// accepts.
func checkInvocation(t *testing.T, where string, args []string) invocation {
	t.Helper()
	inv, err := parseArgs(args)
	if err != nil {
		t.Fatalf("%s: command %q: %v", where, args, err)
	}
	accepted := flagsOf(t, inv.command)
	for name := range inv.flags {
		if !accepted[name] {
			t.Errorf("%s: paxi %s has no flag -%s", where, inv.command, name)
		}
	}
	return inv
}

func loadConfig(t *testing.T, where string, b []byte) *paxi.Config {
	t.Helper()
	cfg, err := paxi.ParseConfig(b)
	if err == nil {
		err = protocols.Validate(cfg)
	}
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return cfg
}

func hostPort(t *testing.T, where, addr string) (string, int) {
	t.Helper()
	if u, err := url.Parse(addr); err == nil && u.Scheme != "" && u.Host != "" {
		addr = u.Host
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s: %q: %v", where, addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s: %q: port %q", where, addr, p)
	}
	return h, port
}

// ---- Dockerfile ----

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms, users []string
	var entrypoint string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms = append(froms, f[1])
		case "USER":
			users = append(users, f[1])
		case "ENTRYPOINT":
			entrypoint = strings.Join(f[1:], " ")
		}
	}
	if len(froms) < 2 {
		t.Errorf("FROM %v: want a multi-stage build (a Go builder, then a minimal base)", froms)
	}
	if last := froms[len(froms)-1]; !strings.Contains(last, "distroless/static") && last != "scratch" {
		t.Errorf("final base %s: want distroless/static or scratch", last)
	}
	if !strings.Contains(string(b), "CGO_ENABLED=0") || !strings.Contains(string(b), "./bin/paxi") {
		t.Error("the binary is not built static (CGO_ENABLED=0) from ./bin/paxi")
	}
	if len(users) == 0 || strings.HasPrefix(users[len(users)-1], "0") || strings.HasPrefix(users[len(users)-1], "root") {
		t.Errorf("USER %v: the image must run as a non-root user", users)
	}
	if entrypoint != `["/paxi"]` {
		t.Errorf("ENTRYPOINT %s: want [\"/paxi\"], which the manifests' commands assume", entrypoint)
	}
}

// ---- Compose ----

type composeService struct {
	Image    string            `yaml:"image"`
	Hostname string            `yaml:"hostname"`
	Command  []string          `yaml:"command"`
	Ports    []string          `yaml:"ports"`
	Volumes  []string          `yaml:"volumes"`
	Labels   map[string]string `yaml:"labels"`
	Profiles []string          `yaml:"profiles"`
	Depends  []string          `yaml:"depends_on"`
	Build    *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
}

func TestCompose(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	// The master: its -config is a file mounted from deploy/.
	m, ok := file.Services["master"]
	if !ok {
		t.Fatal("compose.yaml: no master service")
	}
	minv := checkInvocation(t, "compose master", m.Command)
	if minv.command != "master" {
		t.Fatalf("compose master runs paxi %s", minv.command)
	}
	var cfg *paxi.Config
	for _, v := range m.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == minv.flags["config"] {
			src, err := os.ReadFile(parts[0])
			if err != nil {
				t.Fatalf("compose master mounts %s: %v", parts[0], err)
			}
			cfg = loadConfig(t, "compose master's "+parts[0], src)
		}
	}
	if cfg == nil {
		t.Fatalf("compose master: -config %s is not a mounted file (volumes %v)", minv.flags["config"], m.Volumes)
	}
	_, masterPort := hostPort(t, "compose master -listen", minv.flags["listen"])

	seen := map[paxi.ID]string{}
	zones := map[int]string{}
	for name, s := range file.Services {
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s: neither image nor build", name)
		}
		if s.Build != nil {
			if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
				t.Errorf("service %s: build %+v: %v", name, *s.Build, err)
			}
		}
		if name == "master" {
			continue
		}
		inv := checkInvocation(t, "compose "+name, s.Command)
		if mh, mp := hostPort(t, name+" -master", inv.flags["master"]); mh != "master" || mp != masterPort {
			t.Errorf("service %s: -master %s, want master:%d", name, inv.flags["master"], masterPort)
		}
		for _, d := range s.Depends {
			if _, ok := file.Services[d]; !ok {
				t.Errorf("service %s depends on unknown service %s", name, d)
			}
		}
		if inv.command != "server" {
			continue
		}
		id, err := paxi.ParseID(inv.flags["id"])
		if err != nil {
			t.Fatalf("service %s: -id: %v", name, err)
		}
		if _, ok := cfg.Addrs[id]; !ok {
			t.Errorf("service %s runs node %v, not in the configuration (%v)", name, id, cfg.IDs())
		}
		if other, dup := seen[id]; dup {
			t.Errorf("services %s and %s both run node %v", name, other, id)
		}
		seen[id] = name
		if s.Labels["paxi.zone"] != strconv.Itoa(id.Zone()) {
			t.Errorf("service %s: label paxi.zone %q, node %v is in zone %d", name, s.Labels["paxi.zone"], id, id.Zone())
		}
		if other, dup := zones[id.Zone()]; dup {
			t.Errorf("services %s and %s are both in zone %d: want one zone per service", name, other, id.Zone())
		}
		zones[id.Zone()] = name
		// The configuration's addresses name this service, which Compose
		// makes resolvable on its network.
		for what, addr := range map[string]string{"address": cfg.Addrs[id], "http_address": cfg.HTTPAddrs[id], "native_address": cfg.NativeAddrs[id]} {
			if h, _ := hostPort(t, what, addr); h != name || (s.Hostname != "" && s.Hostname != name) {
				t.Errorf("%s.%v = %s: host is not the service %s", what, id, addr, name)
			}
		}
		_, httpPort := hostPort(t, "http_address", cfg.HTTPAddrs[id])
		for _, p := range s.Ports {
			parts := strings.Split(p, ":")
			if parts[len(parts)-1] != strconv.Itoa(httpPort) {
				t.Errorf("service %s publishes container port %s; the REST API listens on %d", name, parts[len(parts)-1], httpPort)
			}
		}
	}
	for _, id := range cfg.IDs() {
		if seen[id] == "" {
			t.Errorf("node %v of the configuration has no service", id)
		}
	}
	t.Logf("compose.yaml: master and %d nodes in %d zones (%v), consistent with cluster.json", len(seen), len(zones), cfg.IDs())
}

// ---- Kubernetes ----

type meta struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	VolumeMounts   []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type podTemplate struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		SecurityContext struct {
			RunAsNonRoot bool  `yaml:"runAsNonRoot"`
			RunAsUser    int64 `yaml:"runAsUser"`
		} `yaml:"securityContext"`
		Containers []container `yaml:"containers"`
		Volumes    []struct {
			Name      string `yaml:"name"`
			ConfigMap *struct {
				Name string `yaml:"name"`
			} `yaml:"configMap"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

type workload struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		Replicas    int    `yaml:"replicas"`
		ServiceName string `yaml:"serviceName"`
		Selector    struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template podTemplate `yaml:"template"`
	} `yaml:"spec"`
}

type service struct {
	Metadata meta `yaml:"metadata"`
	Spec     struct {
		ClusterIP                string            `yaml:"clusterIP"`
		PublishNotReadyAddresses bool              `yaml:"publishNotReadyAddresses"`
		Selector                 map[string]string `yaml:"selector"`
		Ports                    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type configMap struct {
	Metadata meta              `yaml:"metadata"`
	Data     map[string]string `yaml:"data"`
}

type manifests struct {
	configMaps   map[string]configMap
	services     map[string]service
	deployments  map[string]workload
	statefulSets map[string]workload
}

// loadManifests reads every document of every YAML file in k8s/. Fields
// the test does not model are ignored: Kubernetes has many; the test checks
// the ones a paxi cluster depends on.
func loadManifests(t *testing.T) manifests {
	t.Helper()
	m := manifests{configMaps: map[string]configMap{}, services: map[string]service{},
		deployments: map[string]workload{}, statefulSets: map[string]workload{}}
	files, _ := filepath.Glob("k8s/*.yaml")
	if len(files) == 0 {
		t.Fatal("no k8s/*.yaml")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for i := 0; ; i++ {
			var doc yaml.Node
			if err := dec.Decode(&doc); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var head struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
				Metadata   meta   `yaml:"metadata"`
			}
			if err := doc.Decode(&head); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			where := fmt.Sprintf("%s: %s %s", f, head.Kind, head.Metadata.Name)
			if head.Metadata.Name == "" {
				t.Fatalf("%s document %d: no metadata.name", f, i)
			}
			want := map[string]string{"ConfigMap": "v1", "Service": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1"}[head.Kind]
			if want == "" || head.APIVersion != want {
				t.Fatalf("%s: apiVersion %q kind %q: want one of ConfigMap, Service (v1), Deployment, StatefulSet (apps/v1)", where, head.APIVersion, head.Kind)
			}
			var err error
			switch head.Kind {
			case "ConfigMap":
				var c configMap
				err = doc.Decode(&c)
				m.configMaps[c.Metadata.Name] = c
			case "Service":
				var s service
				err = doc.Decode(&s)
				m.services[s.Metadata.Name] = s
			case "Deployment", "StatefulSet":
				var w workload
				err = doc.Decode(&w)
				if head.Kind == "Deployment" {
					m.deployments[w.Metadata.Name] = w
				} else {
					m.statefulSets[w.Metadata.Name] = w
				}
			}
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		}
	}
	return m
}

// selects reports whether a selector matches a set of labels.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// containerPort resolves a probe's or service's port (a number or a
// container port's name) to a number.
func containerPort(c container, p any) int {
	switch v := p.(type) {
	case int:
		return v
	case string:
		for _, cp := range c.Ports {
			if cp.Name == v {
				return cp.ContainerPort
			}
		}
	}
	return 0
}

func checkWorkload(t *testing.T, kind string, w workload) container {
	t.Helper()
	where := kind + " " + w.Metadata.Name
	if !selects(w.Spec.Selector.MatchLabels, w.Spec.Template.Metadata.Labels) {
		t.Errorf("%s: selector %v does not match its pod labels %v", where, w.Spec.Selector.MatchLabels, w.Spec.Template.Metadata.Labels)
	}
	sc := w.Spec.Template.Spec.SecurityContext
	if !sc.RunAsNonRoot || sc.RunAsUser == 0 {
		t.Errorf("%s: pods must run as non-root (securityContext %+v)", where, sc)
	}
	if len(w.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", where, len(w.Spec.Template.Spec.Containers))
	}
	return w.Spec.Template.Spec.Containers[0]
}

// expand replaces $(VAR) as Kubernetes does in args, with the variable's
// value for a literal and with what its field reference yields for pod
// ordinal k otherwise.
func expand(t *testing.T, where string, c container, labels map[string]string, k int, s string) string {
	t.Helper()
	return regexp.MustCompile(`\$\(([A-Z_]+)\)`).ReplaceAllStringFunc(s, func(ref string) string {
		name := ref[2 : len(ref)-1]
		for _, e := range c.Env {
			if e.Name != name {
				continue
			}
			if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil {
				return e.Value
			}
			fp := e.ValueFrom.FieldRef.FieldPath
			if fp == "metadata.labels['apps.kubernetes.io/pod-index']" {
				return strconv.Itoa(k)
			}
			if label, ok := strings.CutPrefix(fp, "metadata.labels['"); ok {
				label = strings.TrimSuffix(label, "']")
				if v, ok := labels[label]; ok {
					return v
				}
				t.Errorf("%s: $(%s) comes from label %s, which the pods do not have", where, name, label)
				return ""
			}
			t.Errorf("%s: $(%s) comes from %s, which the test does not know", where, name, fp)
			return ""
		}
		t.Errorf("%s: $(%s) is not defined in env", where, name)
		return ""
	})
}

func TestKubernetes(t *testing.T) {
	m := loadManifests(t)

	// The master serves the ConfigMap's cluster.json.
	if len(m.deployments) != 1 {
		t.Fatalf("%d Deployments, want the master's", len(m.deployments))
	}
	var cfg *paxi.Config
	var masterSvc string
	var masterPort int
	for name, d := range m.deployments {
		c := checkWorkload(t, "Deployment", d)
		inv := checkInvocation(t, "Deployment "+name, c.Args)
		if inv.command != "master" {
			t.Fatalf("Deployment %s runs paxi %s, want master", name, inv.command)
		}
		dir, file := filepath.Split(inv.flags["config"])
		for _, vm := range c.VolumeMounts {
			if filepath.Clean(vm.MountPath) != filepath.Clean(dir) {
				continue
			}
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name == vm.Name && v.ConfigMap != nil {
					cm, ok := m.configMaps[v.ConfigMap.Name]
					if !ok {
						t.Fatalf("Deployment %s mounts ConfigMap %s, which is not defined", name, v.ConfigMap.Name)
					}
					cfg = loadConfig(t, "ConfigMap "+v.ConfigMap.Name+" "+file, []byte(cm.Data[file]))
				}
			}
		}
		if cfg == nil {
			t.Fatalf("Deployment %s: -config %s is not a key of a mounted ConfigMap", name, inv.flags["config"])
		}
		_, listen := hostPort(t, "master -listen", inv.flags["listen"])
		if rp := c.ReadinessProbe; rp == nil || rp.HTTPGet == nil || containerPort(c, rp.HTTPGet.Port) != listen || rp.HTTPGet.Path != "/healthz" {
			t.Errorf("Deployment %s: readiness probe is not GET /healthz on the -listen port %d", name, listen)
		}
		for sname, s := range m.services {
			if selects(s.Spec.Selector, d.Spec.Template.Metadata.Labels) {
				for _, p := range s.Spec.Ports {
					if containerPort(c, p.TargetPort) == listen {
						masterSvc, masterPort = sname, p.Port
					}
				}
			}
		}
		if masterSvc == "" {
			t.Fatalf("no Service reaches the master's port %d", listen)
		}
	}

	// The nodes: every StatefulSet pod is a node of the configuration,
	// every node is a pod, with the addresses, ports and zone that the
	// configuration gives it.
	pods := map[paxi.ID]string{}
	restServed := false
	for name, ss := range m.statefulSets {
		c := checkWorkload(t, "StatefulSet", ss)
		labels := ss.Spec.Template.Metadata.Labels
		headless, ok := m.services[ss.Spec.ServiceName]
		if !ok {
			t.Fatalf("StatefulSet %s: serviceName %q is not a Service", name, ss.Spec.ServiceName)
		}
		if headless.Spec.ClusterIP != "None" || !selects(headless.Spec.Selector, labels) {
			t.Errorf("StatefulSet %s: Service %s must be headless (clusterIP None) and select its pods", name, ss.Spec.ServiceName)
		}
		if !headless.Spec.PublishNotReadyAddresses {
			t.Errorf("Service %s: publishNotReadyAddresses must be true: pods are ready only after they reached each other by name", ss.Spec.ServiceName)
		}
		if ss.Spec.Replicas < 1 {
			t.Errorf("StatefulSet %s: %d replicas", name, ss.Spec.Replicas)
		}
		ports := map[string]int{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		for k := range ss.Spec.Replicas {
			pod := fmt.Sprintf("%s-%d", name, k)
			var args []string
			for _, a := range c.Args {
				args = append(args, expand(t, pod, c, labels, k, a))
			}
			inv := checkInvocation(t, "StatefulSet "+name, args)
			if inv.command != "server" {
				t.Fatalf("StatefulSet %s runs paxi %s, want server", name, inv.command)
			}
			if mh, mp := hostPort(t, pod+" -master", inv.flags["master"]); mh != masterSvc || mp != masterPort {
				t.Errorf("%s: -master %s, want the master's Service %s:%d", pod, inv.flags["master"], masterSvc, masterPort)
			}
			var id paxi.ID
			if s := inv.flags["id"]; s != "" {
				id, _ = paxi.ParseID(s)
			} else {
				z, err1 := strconv.Atoi(inv.flags["zone"])
				i, err2 := strconv.Atoi(inv.flags["index"])
				if err1 != nil || err2 != nil || z < 1 || i < 0 {
					t.Fatalf("%s: -zone %q -index %q: not a zone and an index", pod, inv.flags["zone"], inv.flags["index"])
				}
				id = paxi.NewID(z, i+1)
			}
			if labels["paxi.io/zone"] != strconv.Itoa(id.Zone()) {
				t.Errorf("%s: node %v but label paxi.io/zone %q", pod, id, labels["paxi.io/zone"])
			}
			if _, ok := cfg.Addrs[id]; !ok {
				t.Errorf("%s is node %v, which the configuration does not list (%v)", pod, id, cfg.IDs())
				continue
			}
			if other, dup := pods[id]; dup {
				t.Errorf("%s and %s are both node %v", pod, other, id)
			}
			pods[id] = pod
			host := pod + "." + ss.Spec.ServiceName
			for what, a := range map[string]struct {
				addr, port string
			}{
				"address":        {cfg.Addrs[id], "transport"},
				"http_address":   {cfg.HTTPAddrs[id], "http"},
				"native_address": {cfg.NativeAddrs[id], "native"},
			} {
				h, p := hostPort(t, what, a.addr)
				if h != host && !strings.HasPrefix(h, host+".") {
					t.Errorf("%s.%v = %s: host is not the pod's stable name %s", what, id, a.addr, host)
				}
				if ports[a.port] != p {
					t.Errorf("%s.%v = %s: the pod's %s port is %d", what, id, a.addr, a.port, ports[a.port])
				}
				if !slices.ContainsFunc(headless.Spec.Ports, func(sp struct {
					Name       string `yaml:"name"`
					Port       int    `yaml:"port"`
					TargetPort any    `yaml:"targetPort"`
				}) bool {
					return sp.Port == p && containerPort(c, sp.TargetPort) == p
				}) {
					t.Errorf("Service %s does not expose port %d (%s)", ss.Spec.ServiceName, p, what)
				}
			}
		}
		rp := c.ReadinessProbe
		if rp == nil || rp.HTTPGet == nil || rp.HTTPGet.Path != "/healthz" || containerPort(c, rp.HTTPGet.Port) != ports["http"] {
			t.Errorf("StatefulSet %s: readiness probe is not GET /healthz on the REST port %d", name, ports["http"])
		}
		if a := ss.Spec.Template.Metadata.Annotations; a["prometheus.io/path"] != "/metrics" || a["prometheus.io/port"] != strconv.Itoa(ports["http"]) {
			t.Errorf("StatefulSet %s: scrape annotations %v do not point at /metrics on the REST port", name, a)
		}
		for sname, s := range m.services {
			if sname != ss.Spec.ServiceName && s.Spec.ClusterIP != "None" && selects(s.Spec.Selector, labels) {
				for _, p := range s.Spec.Ports {
					restServed = restServed || containerPort(c, p.TargetPort) == ports["http"]
				}
			}
		}
	}
	for _, id := range cfg.IDs() {
		if pods[id] == "" {
			t.Errorf("node %v of the configuration is no StatefulSet pod", id)
		}
	}
	if !restServed {
		t.Error("no ClusterIP Service reaches the nodes' REST port")
	}
	t.Logf("k8s: %d StatefulSets, pods %v are nodes %v; master Service %s:%d", len(m.statefulSets), pods, cfg.IDs(), masterSvc, masterPort)
}
