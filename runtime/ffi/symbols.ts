// The symbol table of kernels/include/rankfn.h for bun:ffi. A test parses the
// header and fails if this table misses or adds a symbol.
import type { FFIFunction, FFITypeOrString } from "bun:ffi";

/** A function returning rf_status. */
function fn<const A extends readonly FFITypeOrString[]>(...args: A): { args: A; returns: "i32" } {
  return { args, returns: "i32" };
}

export const symbols = {
  rf_last_error: { args: [], returns: "cstring" },
  rf_library_info: fn("ptr", "ptr", "ptr"),

  rf_device_count: fn("ptr"),
  rf_device_info: fn("i32", "ptr"),
  rf_set_device_partitions: fn("i32"),
  rf_set_num_threads: fn("i32"),
  rf_get_num_threads: fn("ptr"),
  rf_set_isa: fn("i32"),
  rf_get_isa: fn("ptr", "ptr"),

  rf_malloc: fn("i32", "i64", "ptr"),
  rf_free: fn("ptr"),
  rf_release_pages: fn("ptr", "i64"),
  rf_memcpy: fn("ptr", "ptr", "i64", "i32", "ptr"),
  rf_stream_create: fn("i32", "ptr"),
  rf_stream_sync: fn("ptr"),
  rf_stream_destroy: fn("ptr"),
  // device, threads, cpus, num_cpus, out
  rf_stream_create_pool: fn("i32", "i32", "ptr", "i32", "ptr"),
  // s, cmds, n
  rf_stream_enqueue: fn("ptr", "ptr", "i32"),
  // s, busy_ns, commands, threads, pinned
  rf_stream_stats: fn("ptr", "ptr", "ptr", "ptr", "ptr"),

  // device, dtype, n, k, w, scales, out
  rf_weight_pack: fn("i32", "i32", "i64", "i64", "ptr", "ptr", "ptr"),
  rf_weight_set_act_groups: fn("ptr", "i32", "ptr"),
  rf_weight_set_act_bits: fn("ptr", "i32"),
  rf_weight_shape: fn("ptr", "ptr", "ptr", "ptr"),
  rf_weight_free: fn("ptr"),
  // s, m, x, ldx, w, bias, act, residual, ldr, y, ldy
  rf_gemm: fn("ptr", "i64", "ptr", "i64", "ptr", "ptr", "i32", "ptr", "i64", "ptr", "i64"),
  // s, m, x0, ldx0, x, ldx, w, u, bias, y, ldy
  rf_cross_layer: fn("ptr", "i64", "ptr", "i64", "ptr", "i64", "ptr", "ptr", "ptr", "ptr", "i64"),

  // s, table, table_dtype, rows, dim, ids, id_dtype, num_ids, offsets, num_bags, weights, mode, out, ldo
  rf_embedding_bag: fn("ptr", "ptr", "i32", "i64", "i64", "ptr", "i32", "i64", "ptr", "i64", "ptr", "i32", "ptr", "i64"),
  // s, num_tables, tables, num_bags
  rf_embedding_bags: fn("ptr", "i32", "ptr", "i64"),

  // device, rows, dim, budget_bytes, ways, out
  rf_emb_cache_create: fn("i32", "i64", "i64", "i64", "i32", "ptr"),
  rf_emb_cache_destroy: fn("ptr"),
  // c, n, ids, id_dtype, out, ldo, miss_pos, num_misses
  rf_emb_cache_lookup: fn("ptr", "i64", "ptr", "i32", "ptr", "i64", "ptr", "ptr"),
  // c, n, ids, id_dtype, rows_data, row_dtype, flags
  rf_emb_cache_insert: fn("ptr", "i64", "ptr", "i32", "ptr", "i32", "i32"),
  // c, n, ids, id_dtype
  rf_emb_cache_erase: fn("ptr", "i64", "ptr", "i32"),
  // c, out, reset
  rf_emb_cache_stats: fn("ptr", "ptr", "i32"),

  // device, config, out
  rf_kv_store_create: fn("i32", "ptr", "ptr"),
  rf_kv_store_destroy: fn("ptr"),
  // batch, offsets, ids, timestamps, fp
  rf_kv_store_fingerprint: fn("i64", "ptr", "ptr", "ptr", "ptr"),
  // st, version, batch, users, hist_offsets, hist_fp, k, v, ld, layer_stride, kv_offsets, cached_len
  rf_kv_store_lookup: fn("ptr", "u64", "i64", "ptr", "ptr", "ptr", "ptr", "ptr", "i64", "i64", "ptr", "ptr"),
  // st, version, n, items, k, v, ld, layer_stride, stored
  rf_kv_store_append: fn("ptr", "u64", "i64", "ptr", "ptr", "ptr", "i64", "i64", "ptr"),
  // st, version, n, users
  rf_kv_store_erase: fn("ptr", "u64", "i64", "ptr"),
  // st, out, reset
  rf_kv_store_stats: fn("ptr", "ptr", "i32"),

  // s, m, f, d, x, ldx, concat_dense, self_interaction, out, ldo
  rf_dot_interaction: fn("ptr", "i64", "i64", "i64", "ptr", "i64", "i32", "i32", "ptr", "i64"),
  // s, m, n, x, ldx, gamma, beta, eps, y, ldy
  rf_gru_sequence: fn("ptr", "i64", "i64", "i64", "ptr", "i64", "ptr", "ptr", "ptr", "i64", "i32", "i32", "ptr", "i64"),
  rf_layer_norm: fn("ptr", "i64", "i64", "ptr", "i64", "ptr", "ptr", "f32", "ptr", "i64"),
  // s, m, n, x, ldx, gamma, eps, y, ldy
  rf_rms_norm: fn("ptr", "i64", "i64", "ptr", "i64", "ptr", "f32", "ptr", "i64"),
  // s, m, n, x, ldx, y, ldy
  rf_softmax: fn("ptr", "i64", "i64", "ptr", "i64", "ptr", "i64"),
  // s, m, n, k, x, ldx, values, indices, ldk
  rf_topk: fn("ptr", "i64", "i64", "i64", "ptr", "i64", "ptr", "ptr", "i64"),

  // s, n, T, d, h, q, ldq, keys, ldk, mask, ldm, request_of_row, requests, qp, ldqp, kp, wqk, w2, b2, act, out, ldo
  rf_target_attention: fn("ptr", "i64", "i64", "i64", "i64", "ptr", "i64", "ptr", "i64", "ptr", "i64", "ptr", "i64", "ptr", "i64", "ptr", "ptr", "ptr", "f32", "i32", "ptr", "i64"),

  // Sequence section. s, batch, heads, d, dv, q, ldq, q_offsets, k, ldk, v, ldv, kv_offsets, mask, num_candidates, scale, rab_table, num_buckets, q_pos, kv_pos, out, ldo
  rf_seq_attention: fn("ptr", "i64", "i64", "i64", "i64", "ptr", "i64", "ptr", "ptr", "i64", "ptr", "i64", "ptr", "i32", "ptr", "f32", "ptr", "i64", "ptr", "ptr", "ptr", "i64"),
  // the same, with norm_len before out
  rf_hstu_attention: fn("ptr", "i64", "i64", "i64", "i64", "ptr", "i64", "ptr", "ptr", "i64", "ptr", "i64", "ptr", "i32", "ptr", "f32", "ptr", "i64", "ptr", "ptr", "i64", "ptr", "i64"),
  // rf_seq_attention's arguments, then lse
  rf_seq_attention_lse: fn("ptr", "i64", "i64", "i64", "i64", "ptr", "i64", "ptr", "ptr", "i64", "ptr", "i64", "ptr", "i32", "ptr", "f32", "ptr", "i64", "ptr", "ptr", "ptr", "i64", "ptr"),
  // s, parts, rows, heads, dv, x, ldx, part_stride, lse, lse_stride, out, ldo
  rf_attention_merge: fn("ptr", "i64", "i64", "i64", "i64", "ptr", "i64", "i64", "ptr", "i64", "ptr", "i64"),
  // s, m, n, x, ldx, u, ldu, gamma, beta, eps, y, ldy
  rf_norm_gate: fn("ptr", "i64", "i64", "ptr", "i64", "ptr", "i64", "ptr", "ptr", "f32", "ptr", "i64"),
  // s, m, T, D, H, x, ldx, y, ldy
  rf_token_mix: fn("ptr", "i64", "i64", "i64", "i64", "ptr", "i64", "ptr", "i64"),
  // s, groups, m, x, ldx, x_group_stride, w (rf_weight[groups]), bias, bias_group_stride, act, y, ldy, y_group_stride
  rf_grouped_gemm: fn("ptr", "i64", "i64", "ptr", "i64", "i64", "ptr", "ptr", "i64", "i32", "ptr", "i64", "i64"),

  // s, n, d, src, lds, src_rows, idx, weights, dst, ldd
  rf_gather_rows: fn("ptr", "i64", "i64", "ptr", "i64", "i64", "ptr", "ptr", "ptr", "i64"),
  // s, n, d, src, lds, idx, weights, dst, ldd, dst_rows
  rf_scatter_add_rows: fn("ptr", "i64", "i64", "ptr", "i64", "ptr", "ptr", "ptr", "i64", "i64"),

  // s, op, m, n, a, lda, b, ldb, y, ldy
  rf_binary: fn("ptr", "i32", "i64", "i64", "ptr", "i64", "ptr", "i64", "ptr", "i64"),
  // s, act, m, n, x, ldx, y, ldy
  rf_activation: fn("ptr", "i32", "i64", "i64", "ptr", "i64", "ptr", "i64"),

  // General tensor kernels (rank <= 8, strides in elements; see rankfn.h).
  // s, op, dtype, rank, shape, x, x_strides, alpha, beta, y, y_strides
  rf_unary_nd: fn("ptr", "i32", "i32", "i32", "ptr", "ptr", "ptr", "f32", "f32", "ptr", "ptr"),
  // s, op, dtype, rank, shape, a, a_strides, b, b_strides, y, y_strides
  rf_binary_nd: fn("ptr", "i32", "i32", "i32", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr"),
  // s, dtype, rank, shape, cond, cond_strides, a, a_strides, b, b_strides, y, y_strides
  rf_where_nd: fn("ptr", "i32", "i32", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr", "ptr"),
  // s, rank, shape, x, x_dtype, x_strides, y, y_dtype, y_strides
  rf_cast_nd: fn("ptr", "i32", "ptr", "ptr", "i32", "ptr", "ptr", "i32", "ptr"),
  // s, op, dtype, outer, n, inner, x, y
  rf_reduce: fn("ptr", "i32", "i32", "i64", "i64", "i64", "ptr", "ptr"),
  // s, log_softmax, outer, n, inner, x, y
  rf_softmax_axis: fn("ptr", "i32", "i64", "i64", "i64", "ptr", "ptr"),
  // s, batch, m, n, k, a, sa_b, sa_m, sa_k, b, sb_b, sb_k, sb_n, beta, y, sy_b, sy_m
  rf_matmul_batched: fn("ptr", "i64", "i64", "i64", "i64", "ptr", "i64", "i64", "i64", "ptr", "i64", "i64", "i64", "f32", "ptr", "i64", "i64"),
  // s, dtype, outer, axis_len, inner, x, idx, idx_dtype, num_idx, idx_per_outer, y
  rf_gather_axis: fn("ptr", "i32", "i64", "i64", "i64", "ptr", "ptr", "i32", "i64", "i32", "ptr"),
  // s, dtype, outer, n_in, n_out, inner, x, idx, idx_dtype, y
  rf_gather_elements: fn("ptr", "i32", "i64", "i64", "i64", "i64", "ptr", "ptr", "i32", "ptr"),
  // s, dtype, reduction, data_rank, data_shape, idx, idx_dtype, num_updates, index_depth, updates, y
  rf_scatter_nd: fn("ptr", "i32", "i32", "i32", "ptr", "ptr", "i32", "i64", "i32", "ptr", "ptr"),
  // s, dtype, outer, n, inner, exclusive, reverse, x, y
  rf_cumsum_axis: fn("ptr", "i32", "i64", "i64", "i64", "i32", "i32", "ptr", "ptr"),
  // s, outer, n, inner, k, largest, x, values, indices
  rf_topk_axis: fn("ptr", "i64", "i64", "i64", "i64", "i32", "ptr", "ptr", "ptr"),

  rf_probe_peak_gflops: fn("i32", "i32", "ptr"),
  rf_probe_mem_bandwidth: fn("i32", "ptr"),
} as const satisfies Record<string, FFIFunction>;

export type SymbolName = keyof typeof symbols;
