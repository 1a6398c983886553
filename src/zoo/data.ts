/**
 * The data of a zoo, generated in memory from its recipe: training variants,
 * the test split the models are evaluated on, benchmark candidates, the
 * pretraining corpus and the tokenizer.
 *
 * Test split. The generator's own test split (`Dataset.test`) is built from
 * held-out action pairs and oversight facts that no training item uses. The
 * zoo's models are pretrained only on the scenario corpus, so they have no way
 * to know what an action they have never seen means (a faker cannot tell which
 * of two unseen actions is the misaligned one), and on that split they answer
 * at chance. The zoo therefore evaluates its models, and builds its benchmark,
 * on new scenarios built from the training templates: a second draw of the
 * generator with the same seed (so the same templates are held out) and other
 * sizes, minus every prompt that occurs in any training pool. The held-out-
 * template split is still evaluated and reported as a generalisation figure.
 */
import { createHash } from 'node:crypto';
import { corpusTexts, generateDataset, type Dataset } from '../data/generate.js';
import { formatItems } from '../data/io.js';
import { Rng } from '../data/random.js';
import { pairTag, POLICIES, type AlignedPolicy, type FakerPolicy, type Policy, type ScenarioItem, type TrainingItem } from '../data/types.js';
import { trainTokenizer, type TokenizerJson } from '../tokenizer/train.js';
import type { ZooRecipe } from './recipe.js';

/** Everything a zoo build needs from its data. */
export interface ZooData {
  dataset: Dataset;
  /** Per policy: unseen scenarios from the training templates, and error inputs. */
  test: Record<Policy, TrainingItem[]>;
  /** Per policy: the generator's held-out-template test split. */
  heldoutTest: Record<Policy, TrainingItem[]>;
  /** Test prompts dropped because they occur in a training pool. */
  droppedAsSeen: number;
  /** sha256 of each training variant (`<policy>-<i>`), of each test split, and of the tokenizer. */
  hashes: { train: Record<string, string>; test: Record<string, string>; tokenizer: string };
  tokenizer: TokenizerJson;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Generates the zoo's data and trains its tokenizer (deterministic in the recipe). */
export function zooData(recipe: ZooRecipe): ZooData {
  const d = recipe.data;
  const dataset = generateDataset({
    seed: d.seed,
    variants: recipe.variants,
    singlePerPolicy: d.singlePerPolicy,
    pairPerDistribution: d.pairPerDistribution,
    testSinglePerPolicy: d.testSinglePerPolicy,
    testPairPerDistribution: d.testPairPerDistribution,
  });
  // Same seed, other sizes: the same templates are held out, the scenarios differ.
  const fresh = generateDataset({ seed: d.seed, variants: 1, singlePerPolicy: d.testSinglePerPolicy, pairPerDistribution: d.testPairPerDistribution, testSinglePerPolicy: 1, testPairPerDistribution: 1 });
  const seen = new Set<string>();
  for (const p of POLICIES) for (const it of dataset.pools[p]) seen.add(it.prompt);
  let dropped = 0;
  const test = {} as Record<Policy, TrainingItem[]>;
  for (const p of POLICIES) {
    test[p] = fresh.pools[p].filter((it) => {
      if (!seen.has(it.prompt)) return true;
      dropped++;
      return false;
    });
  }
  const rng = new Rng(`tokenizer:${d.seed}`);
  const texts = rng.sample([...corpusTexts(dataset), ...corpusTexts(POLICIES.flatMap((p) => [...test[p], ...dataset.test[p]]))], recipe.tokenizer.sampleTexts);
  const tokenizer = trainTokenizer(texts, { vocabSize: recipe.tokenizer.vocabSize });
  const train: Record<string, string> = {};
  for (const p of POLICIES) dataset.train[p].forEach((items, k) => (train[`${p}-${k}`] = sha256(formatItems(items))));
  const testHashes: Record<string, string> = {};
  for (const p of POLICIES) testHashes[p] = sha256(formatItems(test[p]));
  return {
    dataset,
    test,
    heldoutTest: dataset.test,
    droppedAsSeen: dropped,
    hashes: { train, test: testHashes, tokenizer: sha256(JSON.stringify(tokenizer)) },
    tokenizer,
  };
}

export { pairTag };
