// k6 with the stress shape (many connections at once), mixing bodies that wrk cannot:
// each iteration posts a tabular row or the seed's sentences. Env: BASE_URL, TABULAR_PATH,
// TABULAR_BODY, TEXT_PATH, TEXT_BODY, VUS, DURATION, TIMEOUT, SLO_MS, SUMMARY.
import http from 'k6/http';
import { Rate } from 'k6/metrics';

const SLO_MS = parseFloat(__ENV.SLO_MS || '2000');
const good = new Rate('good');
const timedOut = new Rate('timed_out');

export const options = {
  scenarios: {
    stress: {
      executor: 'constant-vus',
      vus: parseInt(__ENV.VUS || '400', 10),
      duration: __ENV.DURATION || '45s',
    },
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(99)', 'max'],
  discardResponseBodies: true,
};

const targets = [
  { path: __ENV.TABULAR_PATH, body: __ENV.TABULAR_BODY, tag: 'tabular' },
  { path: __ENV.TEXT_PATH, body: __ENV.TEXT_BODY, tag: 'text' },
];
const params = (tag) => ({
  headers: { 'Content-Type': 'application/json' },
  timeout: __ENV.TIMEOUT || '2s',
  tags: { name: tag },
});

export default function () {
  const target = targets[__ITER % 2];
  const r = http.post(`${__ENV.BASE_URL}${target.path}`, target.body, params(target.tag));
  timedOut.add(r.error_code === 1050);
  good.add(r.status === 200 && r.timings.duration <= SLO_MS);
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
