// k6 for the autoscaling rehearsal (harness/autoscale.py): a ramp of VUs through the balancer,
// each iteration one POST /predict of PER_REQUEST sentences never sent before (cold: no cache
// hit). Each request is tagged with its step (the stage it started in), and every step has a p99
// threshold so that the summary holds the p99 of each step.
// Env: BASE_URL, STAGES ("20s:10,30s:40,20s:10": duration:target VUs, ramped linearly within a
// stage), SUMMARY, SLO_MS (default 300), PER_REQUEST (default 10), SENTENCES (optional JSON array
// of real sentences, sent in order, tagged with the pass once they have all been sent; without
// it the seed sentences of load.js with unique tags).
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';

const failed = new Counter('failed_requests');
const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8000').replace(/\/$/, '');
const SLO_MS = parseFloat(__ENV.SLO_MS || '300');
const PER_REQUEST = parseInt(__ENV.PER_REQUEST || '10', 10);
const stages = (__ENV.STAGES || '10s:2').split(',').map((s) => {
  const [duration, target] = s.split(':');
  return { duration, target: parseInt(target, 10) };
});
const ends = [];
let total = 0;
for (const s of stages) {
  total += parseFloat(s.duration) * (s.duration.endsWith('m') ? 60000 : 1000);
  ends.push(total);
}

const seed = [
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
const real = __ENV.SENTENCES ? new SharedArray('sentences', () => JSON.parse(open(__ENV.SENTENCES))) : null;

const thresholds = { failed_requests: ['count<1'] };
stages.forEach((_, i) => {
  thresholds[`http_req_duration{step:${i}}`] = [`p(99)<${SLO_MS}`];
});

export const options = {
  scenarios: {
    ramp: { executor: 'ramping-vus', startVUs: stages[0].target, stages, gracefulRampDown: '30s' },
  },
  thresholds,
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(99)', 'max'],
};

function body() {
  const n = exec.scenario.iterationInTest;
  const text = [];
  for (let i = 0; i < PER_REQUEST; i++) {
    const k = n * PER_REQUEST + i;
    const pass = real ? Math.floor(k / real.length) : 0; // past the first pass: tagged, still cold
    text.push(
      real
        ? real[k % real.length] + (pass ? ` (${pass})` : '')
        : `${seed[(n + i) % seed.length]} (${n}.${i})`,
    );
  }
  return { text };
}

export default function () {
  const elapsed = exec.instance.currentTestRunDuration;
  let step = ends.findIndex((end) => elapsed < end);
  if (step < 0) step = stages.length - 1;
  const r = http.post(`${BASE_URL}/predict`, JSON.stringify(body()), {
    headers: { 'Content-Type': 'application/json' },
    tags: { step: String(step) },
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
