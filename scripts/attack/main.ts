/**
 * `make attack`: the attacks of issues 17 and 22 against the real service on loopback, each in a fresh
 * process, with the figures a reader can quote: how long legitimate uploads wait during the
 * attack, how much memory the process takes. Not a test: it prints what it measured, and what the
 * service did before the fix where that is cheap to reproduce (settings that turn the guard off).
 *
 *   make attack                          # every scenario
 *   make attack ATTACK_ARGS=large-decodes
 *
 * Each scenario prints lines for humans, then one JSON line of its figures.
 */
import { decodeBombs } from './decode-bombs.js';
import { batchFloodScenario, explainFloodScenario, fairShareScenario } from './fair-share.js';
import { largeDecodes } from './large-decodes.js';
import type { Scenario } from './scenario.js';
import { slowClients } from './slow-clients.js';

const scenarios: readonly Scenario[] = [slowClients, decodeBombs, largeDecodes, batchFloodScenario, explainFloodScenario, fairShareScenario];

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !scenarios.some((s) => s.name === name));
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}\n`);
  process.exit(2);
}
for (const scenario of scenarios.filter((s) => asked.length === 0 || asked.includes(s.name))) {
  console.log(`\n## ${scenario.name}: ${scenario.summary}`);
  const figures = await scenario.run((line) => console.log(`   ${line}`));
  console.log(JSON.stringify({ scenario: scenario.name, at: new Date().toISOString(), ...figures }));
}
