/**
 * A sandbox's writes of its state to the demo's store (`persist` hooks), one after the other in the
 * order they were asked for, so a later state never lands before an earlier one. A failed save is
 * only lost sandbox state: the next save goes on.
 */
export function persistInOrder(): (save: () => void | Promise<void>) => void {
  let chain: Promise<unknown> = Promise.resolve();
  return (save) => {
    chain = chain.then(save).catch(() => {});
  };
}
