// The native logistic-regression probe against scikit-learn's LogisticRegression
// (fixture from tools/make_fixtures.py): coefficients within 1e-3, same predictions.
import { describe, expect, it } from 'vitest';
import { fitLogisticProbe } from '../../src/primitives.js';
import { LOGREG_PATH } from '../helpers/fixture.js';
import { readSafetensors, maxAbsDiff } from '../helpers/safetensors.js';

const fx = readSafetensors(LOGREG_PATH);
const get = (name: string) => fx.get(`logreg.${name}`)!;
const matrix = (name: string) => ({ data: get(name).data as Float64Array, shape: get(name).shape });
const labels = (name: string) => Array.from(get(name).data as BigInt64Array, Number);

describe('logistic probe', () => {
  it('agrees with scikit-learn', async () => {
    const probe = await fitLogisticProbe(matrix('X_train'), labels('y_train'), { C: 1 });
    expect(probe.converged).toBe(true);
    expect(maxAbsDiff(probe.coef, get('coef').data as Float64Array)).toBeLessThan(1e-3);
    expect(Math.abs(probe.intercept - (get('intercept').data as Float64Array)[0])).toBeLessThan(1e-3);
    expect(probe.predict(matrix('X_test'))).toEqual(labels('pred_test'));
    expect(probe.accuracy(matrix('X_test'), labels('y_test'))).toBeCloseTo((get('accuracy_test').data as Float64Array)[0], 10);
  });

  it('a different C gives a different fit (the comparison can fail)', async () => {
    const probe = await fitLogisticProbe(matrix('X_train'), labels('y_train'), { C: 0.01 });
    expect(maxAbsDiff(probe.coef, get('coef').data as Float64Array)).toBeGreaterThan(1e-3);
  });

  it('rejects bad input clearly', async () => {
    await expect(fitLogisticProbe([[1, 2], [3, 4]], [0, 2])).rejects.toThrow(/label 1 is 2/);
    await expect(fitLogisticProbe([[1, 2], [3, 4]], [1, 1])).rejects.toThrow(/both classes/);
    await expect(fitLogisticProbe([[1, 2], [3]], [0, 1])).rejects.toThrow(/row 1 has 1 features/);
    await expect(fitLogisticProbe([[1, 2], [3, 4]], [0, 1], { C: 0 })).rejects.toThrow(/C must be/);
  });
});
