// One thing at a time: tasks that read state, await, then change it (putting a revision in force, committing a
// configuration change) must not interleave, or an older read could undo a newer change. Owns: the queue.

/** Runs tasks one after another, in the order they were given (a failed task does not stop the next). */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T> | T): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
