package netnstest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

// Ways a Network can delay packets.
const (
	MethodNetem   = "netem"   // tc netem qdiscs on each node's interface
	MethodNFQueue = "nfqueue" // netfilter queues, released by this process
)

// namePrefix starts every namespace a Network creates; the process id
// follows, so that a run never touches another's and leftovers of a run
// that was killed can be recognised and removed.
const namePrefix = "paxinet-"

// run runs a command and returns its error with its output.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// Available reports how this machine can delay packets between
// namespaces, or why a Network cannot be built here.
func Available() (method string, err error) {
	if os.Geteuid() != 0 {
		return "", errors.New("needs root (network namespaces, veth pairs, traffic control)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "", errors.New("needs the ip command (iproute2)")
	}
	probe := fmt.Sprintf("%s%x-probe", namePrefix, os.Getpid())
	if err := run("ip", "netns", "add", probe); err != nil {
		return "", fmt.Errorf("cannot create a network namespace: %w", err)
	}
	defer run("ip", "netns", "del", probe)
	if err := run("ip", "-n", probe, "link", "set", "lo", "up"); err != nil {
		return "", err
	}
	var why []string
	if _, err := exec.LookPath("tc"); err != nil {
		why = append(why, "no tc command (iproute2)")
	} else if err := run("ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"); err != nil {
		why = append(why, "tc netem: "+err.Error())
	} else {
		return MethodNetem, nil
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		why = append(why, "no iptables command for the NFQUEUE fallback")
		return "", errors.New(strings.Join(why, "; "))
	}
	q, err := openDelayQueue(probe, 1, 0)
	if err != nil {
		why = append(why, err.Error())
		return "", errors.New(strings.Join(why, "; "))
	}
	defer q.Close()
	if err := run("ip", "netns", "exec", probe, "iptables", "-w", "-t", "mangle", "-A", "OUTPUT", "-d", "198.18.255.1/32", "-j", "NFQUEUE", "--queue-num", "1"); err != nil {
		why = append(why, "iptables NFQUEUE: "+err.Error())
		return "", errors.New(strings.Join(why, "; "))
	}
	return MethodNFQueue, nil
}

// Network is a set of node namespaces on one bridge, plus the host, which
// reaches every node through its own veth pair (undelayed: the host plays
// clients that sit next to their node).
type Network struct {
	// Method is how packets are delayed (MethodNetem or MethodNFQueue).
	Method string
	// HostIP is the host's address on the network.
	HostIP string

	tag    string // unique to this process
	nodes  []paxi.ID
	index  map[paxi.ID]int
	subnet string // "198.18.N."
	queues []*delayQueue
	made   []string // namespaces created, for Close
	hostIf string
	logf   func(format string, a ...any)
}

// New builds the network for nodes, delaying packets with method. On
// error it removes whatever it had made. logf receives one line per step
// worth knowing.
func New(method string, nodes []paxi.ID, logf func(format string, a ...any)) (*Network, error) {
	removeStale(logf)
	n := &Network{Method: method, tag: strconv.FormatInt(int64(os.Getpid()), 16), nodes: nodes,
		index: map[paxi.ID]int{}, logf: logf}
	for i, id := range nodes {
		n.index[id] = i
	}
	if err := n.build(); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// removeStale deletes namespaces left by runs whose process is gone (a run
// killed before it could clean up).
func removeStale(logf func(string, ...any)) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], namePrefix) {
			continue
		}
		pidHex, _, _ := strings.Cut(strings.TrimPrefix(f[0], namePrefix), "-")
		pid, err := strconv.ParseInt(pidHex, 16, 32)
		if err != nil || pid == int64(os.Getpid()) {
			continue
		}
		if syscall.Kill(int(pid), 0) == syscall.ESRCH {
			logf("removing namespace %s left by process %d, which is gone", f[0], pid)
			run("ip", "netns", "del", f[0])
		}
	}
}

func (n *Network) ns(name string) string { return namePrefix + n.tag + "-" + name }

// Namespace returns the name of node id's network namespace.
func (n *Network) Namespace(id paxi.ID) string {
	return n.ns(strconv.Itoa(id.Zone()) + "." + strconv.Itoa(id.Node()))
}

// ifName returns an interface name (at most 15 bytes) unique to this run.
func (n *Network) ifName(role string, i int) string {
	return "px" + n.tag + role + strconv.Itoa(i)
}

// IP returns node id's address.
func (n *Network) IP(id paxi.ID) string { return n.subnet + strconv.Itoa(n.index[id]+1) }

func (n *Network) switchPort(id paxi.ID) string { return n.ifName("s", n.index[id]) }
func (n *Network) nodeIf(id paxi.ID) string     { return n.ifName("n", n.index[id]) }

// freeSubnet picks a /24 of 198.18.0.0/15 that no address or route of the
// host uses.
func freeSubnet() (string, error) {
	addrs, _ := exec.Command("ip", "-4", "-o", "addr").Output()
	routes, _ := exec.Command("ip", "-4", "route").Output()
	used := string(addrs) + string(routes)
	start := rand.IntN(512)
	for k := range 512 {
		b := (start + k) % 512
		s := fmt.Sprintf("198.%d.%d.", 18+b/256, b%256)
		if !strings.Contains(used, s) {
			return s, nil
		}
	}
	return "", errors.New("no free /24 in 198.18.0.0/15")
}

func (n *Network) addNamespace(name string) error {
	if err := run("ip", "netns", "add", name); err != nil {
		return err
	}
	n.made = append(n.made, name)
	return run("ip", "-n", name, "link", "set", "lo", "up")
}

func (n *Network) build() error {
	var err error
	if n.subnet, err = freeSubnet(); err != nil {
		return err
	}
	if len(n.tag) > 7 || len(n.nodes) > 99 {
		return fmt.Errorf("process id %s or %d nodes too large for interface names", n.tag, len(n.nodes))
	}
	sw := n.ns("switch")
	br := "px" + n.tag + "br"
	steps := [][]string{}
	if err := n.addNamespace(sw); err != nil {
		return err
	}
	n.hostIf = n.ifName("h", 0)
	n.HostIP = n.subnet + "254"
	steps = append(steps,
		[]string{"-n", sw, "link", "add", br, "type", "bridge"},
		[]string{"-n", sw, "link", "set", br, "up"},
		[]string{"link", "add", n.hostIf, "type", "veth", "peer", "name", n.ifName("h", 1), "netns", sw},
		[]string{"-n", sw, "link", "set", n.ifName("h", 1), "master", br, "up"},
		[]string{"addr", "add", n.HostIP + "/24", "dev", n.hostIf},
		[]string{"link", "set", n.hostIf, "up"},
	)
	for _, s := range steps {
		if err := run("ip", s...); err != nil {
			return err
		}
	}
	for _, id := range n.nodes {
		ns := n.Namespace(id)
		if err := n.addNamespace(ns); err != nil {
			return err
		}
		for _, s := range [][]string{
			{"link", "add", n.nodeIf(id), "netns", ns, "type", "veth", "peer", "name", n.switchPort(id), "netns", sw},
			{"-n", ns, "addr", "add", n.IP(id) + "/24", "dev", n.nodeIf(id)},
			{"-n", ns, "link", "set", n.nodeIf(id), "up"},
			{"-n", sw, "link", "set", n.switchPort(id), "master", br, "up"},
		} {
			if err := run("ip", s...); err != nil {
				return err
			}
		}
	}
	n.logf("network %s0/24: host %s, bridge %s in namespace %s, nodes %v in namespaces %s*", n.subnet, n.HostIP, br, sw, n.nodes, n.ns(""))
	return nil
}

// Delay makes every packet from node a to node b wait oneWay(a, b).
//
// The delay is applied as packets leave their sender, so the sender's
// kernel counts a held packet as still queued on its socket, and TCP's
// autocorking then holds back the socket's next small writes until the
// held one leaves: each message would wait for the previous one's delay
// too (20-40 ms more per request at these round trips). On a real WAN the
// delay is in the network, not in the sender; autocorking is turned off in
// the node namespaces to match that.
func (n *Network) Delay(oneWay func(a, b paxi.ID) time.Duration) error {
	for _, a := range n.nodes {
		ns, dev := n.Namespace(a), n.nodeIf(a)
		if err := run("ip", "netns", "exec", ns, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/tcp_autocorking"); err != nil {
			return err
		}
		if n.Method == MethodNetem {
			if err := run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1"); err != nil {
				return err
			}
			if err := run("ip", "netns", "exec", ns, "tc", "class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", "rate", "100gbit"); err != nil {
				return err
			}
		}
		for _, b := range n.nodes {
			d := oneWay(a, b)
			if a == b || d <= 0 {
				continue
			}
			if err := n.delayLink(ns, dev, n.index[b]+10, n.IP(b), d); err != nil {
				return fmt.Errorf("delay %v -> %v: %w", a, b, err)
			}
		}
	}
	return nil
}

func (n *Network) delayLink(ns, dev string, class int, dst string, d time.Duration) error {
	c := strconv.Itoa(class)
	if n.Method == MethodNetem {
		ms := strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64) + "ms"
		for _, s := range [][]string{
			{"class", "add", "dev", dev, "parent", "1:", "classid", "1:" + c, "htb", "rate", "100gbit"},
			{"qdisc", "add", "dev", dev, "parent", "1:" + c, "handle", c + ":", "netem", "delay", ms, "limit", "100000"},
			{"filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "dst", dst + "/32", "flowid", "1:" + c},
		} {
			if err := run("ip", append([]string{"netns", "exec", ns, "tc"}, s...)...); err != nil {
				return err
			}
		}
		return nil
	}
	q, err := openDelayQueue(ns, uint16(class), d)
	if err != nil {
		return err
	}
	n.queues = append(n.queues, q)
	return run("ip", "netns", "exec", ns, "iptables", "-w", "-t", "mangle", "-A", "OUTPUT", "-d", dst+"/32", "-j", "NFQUEUE", "--queue-num", c)
}

// Command returns a command that runs in node id's namespace.
func (n *Network) Command(id paxi.ID, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Namespace(id), name}, args...)...)
}

// Cut takes node id's link to the bridge down: nothing reaches it or
// leaves it, as when its zone is cut off.
func (n *Network) Cut(id paxi.ID) error {
	return run("ip", "-n", n.ns("switch"), "link", "set", n.switchPort(id), "down")
}

// Heal brings node id's link back up.
func (n *Network) Heal(id paxi.ID) error {
	return run("ip", "-n", n.ns("switch"), "link", "set", n.switchPort(id), "up")
}

// Delayed returns how many packets the NFQUEUE fallback has held so far
// (0 with netem, where the kernel does not say).
func (n *Network) Delayed() int64 {
	var total int64
	for _, q := range n.queues {
		total += q.held.Load()
	}
	return total
}

// Close removes the namespaces, and with them every interface of the
// network (deleting a namespace deletes its veths and their peers). Stop
// the processes running in them first.
func (n *Network) Close() error {
	var errs []error
	for i := len(n.made) - 1; i >= 0; i-- {
		if err := run("ip", "netns", "del", n.made[i]); err != nil {
			errs = append(errs, err)
		}
	}
	n.made = nil
	for _, q := range n.queues {
		q.Close()
	}
	n.queues = nil
	if n.hostIf != "" {
		if exec.Command("ip", "link", "show", n.hostIf).Run() == nil {
			if err := run("ip", "link", "del", n.hostIf); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
