// SPDX-License-Identifier: BSD-3-Clause
#include <synq/backoff.h>

#include <QtCore/QtGlobal>

#include <cmath>

namespace Synq {

int RetrySettings::delayMs(int attempt, double random01) const
{
    const double cap = qMax(0, maxDelayMs);
    const double first = qBound(0.0, double(initialDelayMs), cap);
    const double factor = qMax(1.0, multiplier);
    // Grows as first * factor^(attempt-1). In closed form, not a loop per attempt: with a factor
    // of 1 or a first delay of 0 the cap is never reached, and a loop would run `attempt` times.
    // pow() may overflow to infinity, which the cap takes care of.
    double delay = first;
    if (attempt > 1 && first > 0.0 && factor > 1.0)
        delay = first * std::pow(factor, double(attempt - 1));
    delay = qMin(delay, cap);
    const double spread = qBound(0.0, jitter, 1.0);
    const double r = qBound(0.0, random01, 1.0);
    delay *= 1.0 + spread * (2.0 * r - 1.0);
    return int(std::lround(qBound(0.0, delay, cap)));
}

} // namespace Synq
