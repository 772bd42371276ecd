// Command vigia-kube is a multi-call binary (hyperkube style) holding the
// Kubernetes components and etcd. The component is chosen by the name the
// binary is invoked as (a symlink such as kube-apiserver) or, failing that,
// by the first argument: `vigia-kube kube-apiserver --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	_ "time/tzdata" // CronJob time zones

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/server/v3/etcdmain"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

// component runs one program with its own argv (argv[0] is the component name)
// and returns the process exit code.
type component func(argv []string) int

func cobraComponent(build func() *cobra.Command) component {
	return func(argv []string) int {
		command := build()
		command.SetArgs(argv[1:])
		return cli.Run(command)
	}
}

var components = map[string]component{
	"kube-apiserver":          cobraComponent(apiserver.NewAPIServerCommand),
	"kube-controller-manager": cobraComponent(controllermanager.NewControllerManagerCommand),
	"kube-scheduler": cobraComponent(func() *cobra.Command {
		return scheduler.NewSchedulerCommand()
	}),
	"kube-proxy": cobraComponent(proxy.NewProxyCommand),
	"kubelet": cobraComponent(func() *cobra.Command {
		return kubelet.NewKubeletCommand(context.Background())
	}),
	"kubectl": runKubectl,
	"etcd":    runEtcd,
}

func runKubectl(argv []string) int {
	logs.GlogSetter(kubectlcmd.GetLogVerbosity(argv)) //nolint:errcheck
	command := kubectlcmd.NewDefaultKubectlCommand()
	command.SetArgs(argv[1:])
	if err := cli.RunNoErrOutput(command); err != nil {
		kubectlutil.CheckErr(err)
	}
	return 0
}

func runEtcd(argv []string) int {
	etcdmain.Main(argv) // exits the process itself on error
	return 0
}

func usage() int {
	names := make([]string, 0, len(components))
	for name := range components {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "usage: vigia-kube COMPONENT [flags]\ncomponents: %v\n", names)
	return 2
}

func main() {
	if run, ok := components[filepath.Base(os.Args[0])]; ok {
		os.Exit(run(os.Args))
	}
	// Some components (kubectl's plugin lookup, etcd) read os.Args directly.
	if len(os.Args) < 2 {
		os.Exit(usage())
	}
	run, ok := components[os.Args[1]]
	if !ok {
		os.Exit(usage())
	}
	os.Args = os.Args[1:]
	os.Exit(run(os.Args))
}
