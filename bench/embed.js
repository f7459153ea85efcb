// k6 for embedding servers speaking OpenAI's /embeddings: the same script for mlapi and
// infinity. Env: BASE_URL, PATH_ (e.g. /v1/embeddings), MODEL, VUS, HOLD, REPEAT (share of
// requests that repeat a fixed set of sentences; 0 = every sentence new), SUMMARY.
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';

const REPEAT = parseFloat(__ENV.REPEAT || '0');
export const options = {
  scenarios: {
    embed: {
      executor: 'ramping-vus',
      startVUs: 1,
      stages: [
        { duration: '3s', target: parseInt(__ENV.VUS || '10', 10) },
        { duration: __ENV.HOLD || '30s', target: parseInt(__ENV.VUS || '10', 10) },
      ],
    },
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(99)', 'max'],
};

const seed = [
  'I love you!', 'I hate you!', 'I am a Kubernetes Cluster!', 'I ran to the store',
  'The students are very good in this class', 'Working on Saturday morning is brutal',
  'How much wood could a wood chuck chuck if a wood chuck could chuck wood?',
  'Food is very tasty', 'Welcome to the thunderdome', 'The movie was long but worth it',
];

function sentences() {
  if (Math.random() < REPEAT) return seed;
  const tag = `${exec.vu.idInTest}-${exec.vu.iterationInScenario}`;
  return seed.map((s, i) => `${s} (${tag}.${i})`);
}

export default function () {
  const body = JSON.stringify({ model: __ENV.MODEL, input: sentences() });
  const r = http.post(`${__ENV.BASE_URL}${__ENV.PATH_}`, body, {
    headers: { 'Content-Type': 'application/json' },
    timeout: '60s',
  });
  check(r, { 'status 200': (res) => res.status === 200 });
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
