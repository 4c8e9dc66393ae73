// Command politely crawls HTTP APIs politely: adaptive concurrency, per-host rate limits,
// Retry-After and quota headers honoured, and crawls that resume after a crash.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes, as the crawl spec promises them.
const (
	exitOK          = 0
	exitFailed      = 1   // the crawl could not run or finish
	exitUsage       = 2   // bad usage or bad config
	exitInterrupted = 130 // interrupted, state saved
)

// exitError carries an exit code through cobra's error return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "politely:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// Errors cobra returns itself (unknown flag or command, missing argument) are usage errors.
	return exitUsage
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "politely",
		Short:         "Crawl HTTP APIs politely, with adaptive concurrency and rate limits",
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("politely {{.Version}}\n")
	root.AddCommand(
		newVersionCmd(),
		newCrawlCmd(),
		newExportCmd(),
		newStatusCmd(),
		newDemoCmd(),
		newMockCmd(),
		newBenchCmd(),
	)
	return root
}
