import type { StatsRecorder } from '../cache/stats.js';
import type { CallEvent, Pipeline } from '../pipeline/call.js';

/** Listens to the pipeline's call events and counts them in the database (batched by the recorder). */
export function recordStats(pipeline: Pipeline, recorder: StatsRecorder): () => void {
  const onCall = (e: CallEvent) => {
    const s = e.server;
    recorder.count(s, 'calls');
    if (e.cut) {
      recorder.count(s, 'cuts');
      recorder.count(s, 'cut_tokens', e.cut.tokens - e.cut.keptTokens);
    }
    if (e.outcome === 'cancelled') return; // cancelled upstream: neither a miss nor a latency of the child's
    if (e.outcome === 'hit') recorder.count(s, 'hits');
    else if (e.outcome === 'stale') recorder.count(s, 'stale_hits');
    else if (e.cacheable) recorder.count(s, 'misses');
    const reason = e.reason ?? e.outcome;
    if (reason === 'timeout') recorder.count(s, 'timeouts');
    else if (reason === 'error' || reason === 'child-down' || reason === 'queue-full') recorder.count(s, 'errors');
    if (e.outcome !== 'hit') recorder.latency(s, e.ms);
  };
  const onQuota = (e: { server: string }) => recorder.count(e.server, 'quota_held');
  pipeline.on('call', onCall);
  pipeline.on('quota', onQuota);
  return () => {
    pipeline.off('call', onCall);
    pipeline.off('quota', onQuota);
  };
}
