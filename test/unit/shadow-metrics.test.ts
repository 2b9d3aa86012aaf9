/**
 * The shadow's metrics (src/metrics.ts, issue 26): agreement counted by the label each version
 * predicted, the probabilities compared label by label (by name: a retrained head may order them
 * otherwise), skipped images by reason, and a pair's series gone once either version is unloaded.
 */
import { expect } from 'chai';
import { createMetrics } from '../../src/metrics.js';
import type { ServedModel } from '../../src/repository/types.js';

describe('shadow metrics', () => {
  let loaded: string[] = [];
  const metrics = createMetrics({
    models: () => loaded.map((version) => ({ name: 'catdog', version, classifier: { name: 'fixture', sha256: '0', labels: ['Cat', 'Dog', 'Other'], int8Weights: 'none' } }) as unknown as ServedModel),
    inflight: () => 0,
    queued: () => 0,
    ready: () => true,
  });
  const text = (): Promise<string> => metrics.registry.metrics();
  const value = (all: string, series: string): number | undefined => {
    const line = all.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  const cat = { prediction: 'Cat', labels: ['Cat', 'Dog', 'Other'], values: [0.8, 0.1, 0.1] };

  it('counts agreement and the mean absolute difference of the probabilities, label by label', async () => {
    loaded = ['1', '2'];
    metrics.observeShadow({ name: 'catdog', servingVersion: '1', candidateVersion: '2', serving: cat, shadow: { prediction: 'Cat', labels: ['Other', 'Cat', 'Dog'], values: [0.1, 0.7, 0.2] } });
    metrics.observeShadow({ name: 'catdog', servingVersion: '1', candidateVersion: '2', serving: cat, shadow: { prediction: 'Dog', labels: ['Cat', 'Dog', 'Other'], values: [0.2, 0.7, 0.1] } });
    metrics.observeShadowSkipped({ name: 'catdog', candidateVersion: '2', reason: 'busy' });
    const all = await text();
    const pair = 'model="catdog",version="2",serving_version="1"';
    expect(value(all, `catdog_shadow_comparisons_total{${pair},agree="true"}`)).to.equal(1);
    expect(value(all, `catdog_shadow_comparisons_total{${pair},agree="false"}`)).to.equal(1);
    expect(value(all, `catdog_shadow_probability_difference_count{${pair}}`)).to.equal(2);
    // (0.1 + 0.1 + 0) / 3 and (0.6 + 0.6 + 0) / 3.
    expect(value(all, `catdog_shadow_probability_difference_sum{${pair}}`)).to.be.closeTo(1.4 / 3, 1e-9);
    expect(value(all, 'catdog_shadow_skipped_total{model="catdog",version="2",reason="busy"}')).to.equal(1);
  });

  it('drops a pair\'s series once either version is unloaded', async () => {
    loaded = ['1'];
    const all = await text();
    expect(all).to.not.contain('catdog_shadow_comparisons_total{model="catdog"');
    expect(all).to.not.contain('catdog_shadow_probability_difference_count{model="catdog"');
  });
});
