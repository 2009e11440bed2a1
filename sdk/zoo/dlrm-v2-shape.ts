// The MLPerf DLRM-v2 benchmark shape (mlcommons recommendation_v2): 13 dense
// features, 26 sparse features, embedding dim 128, multi-hot bags.

export const DLRM_V2 = {
  denseFeatures: 13,
  embeddingDim: 128,
  /** Rows per table, in feature order (≈ 204M rows, ≈ 97 GiB in fp32). */
  tableRows: [
    40_000_000, 39_060, 17_295, 7_424, 20_265, 3, 7_122, 1_543, 63, 40_000_000, 3_067_956, 405_282, 10, 2_209, 11_938,
    155, 4, 976, 14, 40_000_000, 40_000_000, 40_000_000, 590_152, 12_973, 108, 36,
  ],
  /** Ids per bag, in feature order (214 ids per sample). */
  multiHot: [3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1],
  bottomMlp: [512, 256, 128],
  topMlp: [1024, 1024, 512, 256, 1],
} as const;

/** Table rows scaled by `scale` (at least 1 row each), e.g. 0.001 to fit a laptop. */
export function scaledTableRows(scale: number): number[] {
  return DLRM_V2.tableRows.map((r) => Math.max(1, Math.round(r * scale)));
}
