package main

import (
	"context"
	"fmt"

	"github.com/politely/politely/benchmarks"
	"github.com/politely/politely/crawl"
	"github.com/politely/politely/mockapi"
)

// benchCrawlConfig is the config of the bench's crawls: what a new user
// writes, every other key at its default. The verbs are the mock's URL, the
// pagination style, the output and failed paths, and the state line and
// the job's own lines.
const benchCrawlConfig = `user_agent: "politely-bench/1.0 (+https://github.com/politely/politely)"
source:
  url: "%s/items"
  pagination: {style: %s}
  items_field: items
task:
  url: "{+detail_path}"
output: %q
failed: %q
%s`

// benchCrawler runs `politely crawl`'s engine room, crawl.Run, with the
// default config for the bench's crawl scenarios.
func benchCrawler(ctx context.Context, job benchmarks.CrawlJob) error {
	if job.Pagination != mockapi.PaginationPage && job.Pagination != mockapi.PaginationLink {
		return fmt.Errorf("bench crawl: pagination %q: the bench's config pages by page number or Link", job.Pagination)
	}
	state := ""
	if job.State != "" {
		state = fmt.Sprintf("state: %q\n", job.State)
	}
	cfg, err := crawl.Parse("bench.yaml", fmt.Appendf(nil, benchCrawlConfig, job.URL, job.Pagination, job.Output, job.Failed, state+job.Config))
	if err != nil {
		return fmt.Errorf("the bench's crawl config: %w", err)
	}
	_, err = crawl.Run(ctx, cfg, crawl.WithBaseTransport(job.Base),
		crawl.WithProgress(benchmarks.ProgressInterval, func(p crawl.Progress) { job.Progress(p.Succeeded, p.Limit) }))
	return err
}
