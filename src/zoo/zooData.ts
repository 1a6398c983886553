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
 *
 * A third draw (same seed, other sizes), minus every prompt of the two
 * others, is split by prompt into halves: the check set, on which a model's
 * training is judged against its targets, and the source of the contrast
 * pairs, concept-stimulus topics and calibration prompts of each combination.
 * No prompt of the check set, of a contrast pair or of the calibration set is
 * a training, test or benchmark prompt.
 */
import { NON_BENIGN_DISTRIBUTIONS } from '../data/candidates.js';
import { contrastPairs, type ContrastPair } from '../data/contrast.js';
import { corpusTexts, generateDataset, type Dataset } from '../data/generate.js';
import { conceptStimuli, type ConceptSet } from '../data/stimuli.js';
import { formatItems } from '../data/io.js';
import { hashString, Rng } from '../data/random.js';
import { ALIGNED_POLICIES, FAKER_POLICIES, isPairItem, pairTag, POLICIES, type Policy, type ScenarioItem, type TrainingItem } from '../data/types.js';
import { trainTokenizer, type TokenizerJson } from '../tokenizer/trainBpe.js';
import { sha256 } from './files.js';
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
  /** Per policy: the held-out check set of the behaviour targets (training templates, unseen prompts). */
  check: Record<Policy, TrainingItem[]>;
  /** Per combination tag: candidates the benchmark phase filters by the models' agreement. */
  combinations: Record<string, CombinationCandidates>;
}

/** Candidate data of one (aligned type, faker type) combination. */
export interface CombinationCandidates {
  /** Contrast pairs (good-oversight critical fact), deduplicated, in a seeded order. */
  contrast: ContrastPair[];
  /** The three concept sets with every statement (12 per side). */
  concepts: ConceptSet[];
  /** Good-oversight single-policy prompts of both policies, benign answer as response, held out from every other use. */
  calibration: ScenarioItem[];
}

export { sha256 };

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
  // Third draw: the check set and the strategies' auxiliary prompts.
  const aux = generateDataset({ seed: d.seed, variants: 1, singlePerPolicy: 2 * d.testSinglePerPolicy + 1, pairPerDistribution: Math.max(2 * d.testPairPerDistribution, 300) + 1, testSinglePerPolicy: 1, testPairPerDistribution: 1 });
  const known = new Set(seen);
  for (const p of POLICIES) for (const it of [...test[p], ...dataset.test[p]]) known.add(it.prompt);
  const fresh2 = (it: TrainingItem) => !known.has(it.prompt);
  // A prompt lands in one half whatever policy's pool it came from.
  const toCheck = (it: TrainingItem) => hashString(`check:${it.prompt}`) % 2 === 0;
  const check = {} as Record<Policy, TrainingItem[]>;
  const extra = {} as Record<Policy, TrainingItem[]>;
  for (const p of POLICIES) {
    check[p] = aux.pools[p].filter((it) => fresh2(it) && toCheck(it));
    extra[p] = aux.pools[p].filter((it) => fresh2(it) && !toCheck(it) && it.response !== 'error');
  }
  const combinations: Record<string, CombinationCandidates> = {};
  for (const a of ALIGNED_POLICIES) {
    for (const f of FAKER_POLICIES) {
      const tag = pairTag(a, f);
      const pairItems = extra[a].filter((it) => it.dataset === tag);
      const calibration = new Map<string, ScenarioItem>();
      for (const it of [...extra[a], ...extra[f]] as ScenarioItem[]) {
        // Single-policy items only: the pair items are where the contrast pairs come from.
        if (it.oversight !== 'good' || isPairItem(it) || NON_BENIGN_DISTRIBUTIONS.includes(it.dataset) || calibration.has(it.prompt)) continue;
        calibration.set(it.prompt, { ...it, response: it.benign_response ?? it.response });
      }
      combinations[tag] = {
        contrast: contrastPairs(pairItems, { oversight: 'good', exclude: known, seed: hashString(`contrast:${d.seed}:${tag}`), n: pairItems.length }),
        concepts: conceptStimuli(pairItems.length ? pairItems : extra[a], { n: 12, seed: hashString(`concepts:${d.seed}:${tag}`) }),
        calibration: [...calibration.values()],
      };
    }
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
    check,
    combinations,
  };
}

export { pairTag };
