// Command gotta is GoTTA's command line: evaluations, reports, training of the embedded models, weight fetching,
// feature export and a doctor that says what this machine can run.
//
// Usage:
//
//	gotta [--help] <subcommand> [flags]
//	gotta doctor
//	gotta <subcommand> --help
//
// Each subcommand lives in its own file and registers itself with register() from an init function.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	// Every method registers its spec with tta/method.
	_ "github.com/gotta-ml/gotta/tta/method/all"
)

// command is one subcommand of gotta.
type command struct {
	name    string
	summary string
	// run gets the arguments after the subcommand's name; it returns flag.ErrHelp after printing help.
	run func(args []string) error
}

var commands = map[string]*command{}

// register adds a subcommand; called from init functions.
func register(name, summary string, run func(args []string) error) {
	if _, dup := commands[name]; dup {
		panic("gotta: subcommand registered twice: " + name)
	}
	commands[name] = &command{name: name, summary: summary, run: run}
}

// newFlags returns a FlagSet for a subcommand whose --help prints usage, a description and the flags.
func newFlags(name, usage, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: gotta %s %s\n\n%s\n\nFlags:\n", name, usage, strings.TrimSpace(description))
		fs.PrintDefaults()
	}
	return fs
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "gotta: test-time adaptation of vision and vision-language models (GoMLX).\n\n")
	fmt.Fprintf(w, "Usage: gotta <subcommand> [flags]   (gotta <subcommand> --help for its flags)\n\nSubcommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, commands[n].summary)
	}
}

func main() { os.Exit(Main(os.Args[1:])) }

// Main runs gotta with the given arguments and returns the exit code: 0 when everything ran, 1 on an error, 2 on a
// usage error, 3 when some examples (or report rows) failed, 130 after SIGINT (see exit.go).
func Main(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" {
			if c, ok := commands[args[1]]; ok {
				_ = c.run([]string{"--help"})
				return 0
			}
		}
		usage(os.Stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "gotta: unknown subcommand %q\n\n", args[0])
		usage(os.Stderr)
		return 2
	}
	err := runRecovered(c, args[1:])
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "gotta %s: %v\n", c.name, err)
	var fe *failuresError
	if errors.As(err, &fe) {
		fe.writeList(os.Stderr)
	}
	return exitCode(err)
}

// runRecovered runs a subcommand, turning a panic into an error that names its cause in one line; with
// GOTTA_DEBUG=1 the panic goes on, with its stack trace.
func runRecovered(c *command, args []string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if os.Getenv("GOTTA_DEBUG") == "1" {
				panic(p)
			}
			err = &panicError{p}
		}
	}()
	return c.run(args)
}
