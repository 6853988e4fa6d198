/**
 * Exponential backoff with jitter for `runConsumer`'s `nak(delay)`: attempt n waits
 * `base · 2^(n-1)`, scaled by a random 0.75–1.25 so a burst of failures does not come back in step.
 * With base 30 s, 8 attempts span about an hour (30 s + 1 + 2 + 4 + 8 + 16 + 32 min ≈ 63 min).
 * A provider's Retry-After (OrderpilotError.retryAfterMs) takes precedence in the runner.
 */
export function exponentialBackoff(baseMs: number, maxMs = 6 * 3600_000, random: () => number = Math.random): (deliveryCount: number) => number {
  return (deliveryCount) => {
    const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, deliveryCount - 1));
    return Math.max(1, Math.round(d * (0.75 + random() * 0.5)));
  };
}
