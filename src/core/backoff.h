// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_BACKOFF_H
#define SYNQ_BACKOFF_H

#include <synq/synq_export.h>

namespace Synq {

// How often and how patiently a failed transaction is tried again. The defaults are the
// seed's: 4 retries (5 attempts in all), doubling from one second, at most a minute apart,
// each delay moved by up to ±25 % at random so that many clients do not retry in step.
struct SYNQ_EXPORT RetrySettings
{
    int maxRetries = 4;
    int initialDelayMs = 1000;
    int maxDelayMs = 60000;
    double multiplier = 2.0;
    double jitter = 0.25; // 0..1: the share of a delay that is random

    // The delay after failed attempt number `attempt` (1 = the first attempt failed), before
    // Retry-After; random01 is a random number in [0, 1), 0.5 gives the delay without jitter.
    // Always within [0, maxDelayMs].
    int delayMs(int attempt, double random01) const;
    // Whether a transaction that has failed `attempts` times may try again.
    bool mayRetry(int attempts) const { return attempts <= maxRetries; }

    friend bool operator==(const RetrySettings &a, const RetrySettings &b)
    {
        return a.maxRetries == b.maxRetries && a.initialDelayMs == b.initialDelayMs
                && a.maxDelayMs == b.maxDelayMs && a.multiplier == b.multiplier
                && a.jitter == b.jitter;
    }
};

} // namespace Synq

#endif
