// The part of every embedding-bag path that does not depend on the ISA: typed
// dispatch of a task to run_task<table dtype, id type> and the parallel loop
// over the planned (table, bag block) tasks. Included at the end of each ISA
// file's anonymous namespace, after its run_task template, so it is compiled
// with that file's flags.

template <class IT>
void run_task_ids(const BagJob &j, int64_t b0, int64_t b1) {
    switch (j.table_dtype) {
    case RF_F32: return run_task<RF_F32, IT>(j, b0, b1);
    case RF_F16: return run_task<RF_F16, IT>(j, b0, b1);
    case RF_BF16: return run_task<RF_BF16, IT>(j, b0, b1);
    case RF_U4Q: return run_task<RF_U4Q, IT>(j, b0, b1);
    default: return run_task<RF_U8Q, IT>(j, b0, b1);
    }
}

rf_status run_bag_jobs(const BagJob *jobs, int num_jobs, int64_t num_bags) {
    std::vector<BagTask> tasks = plan_bag_tasks(jobs, num_jobs, num_bags, 2048);
    parallel_for(int64_t(tasks.size()), [&](int64_t t, int) {
        const BagTask &k = tasks[size_t(t)];
        const BagJob &j = jobs[k.job];
        if (j.id_dtype == RF_I32) run_task_ids<int32_t>(j, k.b0, k.b1);
        else run_task_ids<int64_t>(j, k.b0, k.b1);
    });
    return RF_OK;
}
