import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BuildEta } from '../../src/zoo/eta.js';

describe('build ETA', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
  });
  afterEach(() => vi.useRealTimers());

  it('counts steps, skipped work and steps past the plan, and estimates from each phase its measured speed', () => {
    // Batch sizes chosen so that a fine-tune step is first taken to cost a pretraining step (17 / (1.7 * 10) = 1).
    const eta = new BuildEta({ pretrainSteps: 10, finetuneSteps: 20, pretrainBatchSize: 10, finetuneBatchSize: 17 });
    expect([eta.done, eta.total, eta.seconds()]).toEqual([0, 30, undefined]);

    vi.advanceTimersByTime(100);
    eta.step('pretrain');
    // 9 pretraining and 20 fine-tune steps left at 100 ms.
    expect([eta.done, eta.total]).toEqual([1, 30]);
    expect(eta.seconds()).toBeCloseTo(2.9, 12);

    eta.skip('pretrain', 9);
    expect(eta.done).toBe(10);
    expect(eta.seconds()).toBeCloseTo(2.0, 12);

    // Time before the restart (model loading) is not a step's.
    vi.advanceTimersByTime(5000);
    eta.restartClock();
    vi.advanceTimersByTime(50);
    eta.step('finetune');
    expect(eta.seconds()).toBeCloseTo(19 * 0.05, 12);

    // A step past the plan grows the total and leaves as many steps to go.
    vi.advanceTimersByTime(30);
    eta.step('finetune', true);
    expect([eta.done, eta.total]).toEqual([12, 31]);
    expect(eta.seconds()).toBeCloseTo(19 * 0.04, 12);

    eta.skip('finetune', 19);
    expect([eta.done, eta.total, eta.seconds()]).toEqual([31, 31, 0]);
  });
});
