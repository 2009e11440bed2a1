// The CPU backend's rf_stream: a plain stream (ops run on the caller's thread)
// or a core-group stream that owns a pinned pool and a queue thread running
// commands from rf_stream_enqueue in order (stream_queue.cpp).
#pragma once

#include "backend.h"

namespace rf {
class StreamQueue;

rf_status stream_queue_sync(StreamQueue *q);
void stream_queue_destroy(StreamQueue *q);
}  // namespace rf

struct rf_stream_s {
    int32_t device;
    rf::StreamQueue *queue;  // nullptr for a plain stream
};
