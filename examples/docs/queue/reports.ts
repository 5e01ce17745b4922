import { App, sleep } from 'weir';
import { openJobQueue } from 'weir/queue';

export const app = new App();
export const reports = await openJobQueue<{ pages: number }>('reports', { logger: app.log });
app.onStop(() => reports.close());

export const built: number[] = [];
app.worker(
  reports,
  async (job, { signal }) => {
    for (let page = 1; page <= job.data.pages; page++) {
      await sleep(50, { signal }); // one page; stops as soon as the signal aborts
    }
    built.push(job.data.pages);
  },
  {
    concurrency: 2,
    // app.stop() (SIGTERM under weir serve or weir worker) stops taking jobs and gives the running ones
    // 2 s to finish. Then their signals abort (reason WEIR_ERR_JOBS_CLOSED) and they are given back to
    // the queue, for a worker that runs later: an attempt given back does not count.
    shutdownTimeoutMs: 2000,
  },
);
