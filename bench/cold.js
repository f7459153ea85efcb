// load.js's cold profile on real sentences: the same stages, thresholds, tags and summary
// (imported from load.js), but each /predict carries the next 10 sentences of SENTENCES, a JSON
// array of strings, in order across all VUs: no sentence is sent twice until the array wraps.
//
//   k6 run -e SENTENCES=/tmp/sst2.json -e BASE_URL=http://127.0.0.1:8000 bench/cold.js
//
// Knobs as load.js (BASE_URL, VUS, RAMP_UP, HOLD, RAMP_DOWN, API_KEY, P99_MS, SUMMARY), plus
// SENTENCES and PER_REQUEST (default 10).
import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';
import exec from 'k6/execution';
import { options as loadOptions, handleSummary as loadSummary } from '../load.js';

export const options = loadOptions;
export const handleSummary = loadSummary;

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8000').replace(/\/$/, '');
const PER_REQUEST = parseInt(__ENV.PER_REQUEST || '10', 10);
const sentences = new SharedArray('sentences', () => JSON.parse(open(__ENV.SENTENCES)));
const headers = { 'Content-Type': 'application/json' };
if (__ENV.API_KEY) headers['Authorization'] = `Bearer ${__ENV.API_KEY}`;

function coldBody() {
  const first = exec.scenario.iterationInTest * PER_REQUEST;
  const text = [];
  for (let i = 0; i < PER_REQUEST; i++) text.push(sentences[(first + i) % sentences.length]);
  return { text };
}

export default function () {
  const health = http.get(`${BASE_URL}/health`, { tags: { name: 'health' } });
  check(health, { 'health is 200': (r) => r.status === 200 });
  const prediction = http.post(`${BASE_URL}/predict`, JSON.stringify(coldBody()), {
    headers,
    tags: { name: 'predict' },
  });
  check(prediction, {
    'predict is 200': (r) => r.status === 200,
    'one prediction per text': (r) => r.status === 200 && r.json('predictions').length > 0,
  });
}
