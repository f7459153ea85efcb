// k6 against the balancer in front of the replicas: each iteration posts a few sentences,
// some repeated across iterations (cache hits on whichever replica computed them), some new.
// Env: BASE_URL, VUS, DURATION, SUMMARY.
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';

const failed = new Counter('failed_requests');

export const options = {
  scenarios: {
    steady: {
      executor: 'constant-vus',
      vus: parseInt(__ENV.VUS || '10', 10),
      duration: __ENV.DURATION || '30s',
    },
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(99)', 'max'],
};

export default function () {
  const text = [
    `a sentence that many users send, number ${__ITER % 50}`,
    `a sentence seen once, by user ${__VU} at iteration ${__ITER}`,
  ];
  const r = http.post(`${__ENV.BASE_URL}/predict`, JSON.stringify({ text }), {
    headers: { 'Content-Type': 'application/json' },
    timeout: '30s',
  });
  const ok = check(r, { 'status is 200': (res) => res.status === 200 });
  if (!ok) {
    failed.add(1, { status: String(r.status) });
    console.warn(`failed request: status=${r.status} error=${r.error_code} body=${String(r.body).slice(0, 200)}`);
  }
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
