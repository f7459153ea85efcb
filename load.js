// k6 load test for mlapi, faithful to the reference protocol by default:
// 10 VUs, ramp 30 s, hold 7 min, ramp down 3 min; each iteration GET /health then POST /predict,
// with CACHE_RATE of the bodies the same 3 fixed sentences and the rest a shuffle of 10.
//
//   k6 run load.js                                   # against http://127.0.0.1:8000
//   k6 run -e BASE_URL=https://mlapi.example.com -e CACHE_RATE=0.5 load.js
//
// predict_under_objective is the SLI: the share of /predict answered (200) within SLO_MS.
// Knobs (all optional): BASE_URL, CACHE_RATE, VUS, RAMP_UP, HOLD, RAMP_DOWN, API_KEY,
// P99_MS (latency threshold), SLO_MS (SLI objective), SUMMARY (path of the JSON summary),
// COLD=1 (every sentence unique: no cache hits).
import http from 'k6/http';
import { check } from 'k6';
import { Rate } from 'k6/metrics';
import exec from 'k6/execution';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8000').replace(/\/$/, '');
const CACHE_RATE = parseFloat(__ENV.CACHE_RATE || '0.95');
const VUS = parseInt(__ENV.VUS || '10', 10);
const P99_MS = parseFloat(__ENV.P99_MS || '2000');
const COLD = __ENV.COLD === '1';
const SUMMARY = __ENV.SUMMARY || 'reports/k6-summary.json';
// The latency objective of the SLI: share of /predict requests answered within SLO_MS.
const SLO_MS = parseFloat(__ENV.SLO_MS || '300');
const underObjective = new Rate('predict_under_objective');

export const options = {
  stages: [
    { duration: __ENV.RAMP_UP || '30s', target: VUS },
    { duration: __ENV.HOLD || '7m', target: VUS },
    { duration: __ENV.RAMP_DOWN || '3m', target: 0 },
  ],
  thresholds: {
    http_req_duration: [`p(99)<${P99_MS}`],
    'http_req_duration{name:predict}': [`p(99)<${P99_MS}`],
    http_req_failed: ['rate<0.01'],
  },
  summaryTrendStats: ['min', 'avg', 'med', 'max', 'p(50)', 'p(90)', 'p(95)', 'p(99)'],
};

const fixed = ['I love you!', 'I hate you!', 'I am a Kubernetes Cluster!'];
const shuffler = [
  'I love you!',
  'I hate you!',
  'I am a Kubernetes Cluster!',
  'I ran to the store',
  'The students are very good in this class',
  'Working on Saturday morning is brutal',
  'How much wood could a wood chuck chuck if a wood chuck could chuck wood?',
  'A Wood chuck would chuck as much wood as a wood chuck could chuck if a woodchuck could chuck wood ',
  'Food is very tasty',
  'Welcome to the thunderdome',
];

function shuffled(values) {
  return values
    .map((value) => ({ value, sort: Math.random() }))
    .sort((a, b) => a.sort - b.sort)
    .map(({ value }) => value);
}

function coldBody() {
  // Ten sentences never sent before: unique per VU and iteration.
  const tag = `${exec.vu.idInTest}-${exec.vu.iterationInScenario}`;
  return shuffler.map((s, i) => `${s} (${tag}.${i})`);
}

export function generator(cacheRate) {
  if (COLD) return { text: coldBody() };
  return { text: Math.random() > cacheRate ? shuffled(shuffler) : fixed };
}

const headers = { 'Content-Type': 'application/json' };
if (__ENV.API_KEY) headers['Authorization'] = `Bearer ${__ENV.API_KEY}`;

export default function () {
  const health = http.get(`${BASE_URL}/health`, { tags: { name: 'health' } });
  check(health, { 'health is 200': (r) => r.status === 200 });
  const payload = JSON.stringify(generator(CACHE_RATE));
  const prediction = http.post(`${BASE_URL}/predict`, payload, { headers, tags: { name: 'predict' } });
  underObjective.add(prediction.status === 200 && prediction.timings.duration < SLO_MS);
  check(prediction, {
    'predict is 200': (r) => r.status === 200,
    'one prediction per text': (r) => r.status === 200 && r.json('predictions').length > 0,
  });
}

function fmt(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)}s` : `${ms.toFixed(2)}ms`;
}

// A compact text summary (no remote jslib needed) plus the full JSON for reports.
function textSummary(data) {
  const m = data.metrics;
  const lines = [''];
  for (const name of ['http_req_duration', 'http_req_duration{name:predict}', 'iteration_duration']) {
    const v = m[name] && m[name].values;
    if (v) {
      const stats = ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'].map((k) => `${k}=${fmt(v[k])}`);
      lines.push(`  ${name.padEnd(34, '.')}: ${stats.join(' ')}`);
    }
  }
  const reqs = m.http_reqs.values;
  lines.push(`  ${'http_reqs'.padEnd(34, '.')}: ${reqs.count} (${reqs.rate.toFixed(1)}/s)`);
  lines.push(`  ${'http_req_failed'.padEnd(34, '.')}: ${(100 * m.http_req_failed.values.rate).toFixed(2)}%`);
  if (m.checks) lines.push(`  ${'checks'.padEnd(34, '.')}: ${(100 * m.checks.values.rate).toFixed(2)}%`);
  for (const [name, metric] of Object.entries(m)) {
    for (const [rule, result] of Object.entries(metric.thresholds || {})) {
      lines.push(`  threshold ${name} ${rule}: ${result.ok ? 'ok' : 'FAILED'}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function handleSummary(data) {
  return {
    stdout: textSummary(data),
    [SUMMARY]: JSON.stringify(data, null, 2),
  };
}
