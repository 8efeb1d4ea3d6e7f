// Exponential backoff with "equal jitter" (half fixed, half random), so retries from many
// requests do not arrive together yet never come back at once.
const BASE_MS = 100;
const CAP_MS = 2000;

export function backoffDelay(retryIndex: number, random: () => number = Math.random): number {
  const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** retryIndex);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
