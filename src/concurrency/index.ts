export { type Budget, budget, timeLeft, withinBudget } from './deadline.ts';
export { TimeoutError } from './errors.ts';
export { Event } from './event.ts';
export { type GatherOptions, gather, type Task } from './gather.ts';
export { Lock, type Releaser, Semaphore } from './lock.ts';
export { Queue, type QueueOptions } from './queue.ts';
export {
  configureWorkers,
  runInWorker,
  shutdownWorkers,
  type WorkerFunction,
  type WorkerPoolOptions,
  workerStats,
} from './run-in-worker.ts';
export { type SignalOptions, sleep } from './sleep.ts';
export { TaskGroup } from './task-group.ts';
export { timeout, type Work } from './timeout.ts';
