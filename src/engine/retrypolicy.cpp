// SPDX-License-Identifier: BSD-3-Clause
#include <synq/retrypolicy.h>

#include <QtCore/QtGlobal>

namespace Synq {

/*!
    \class Synq::RetryPolicy
    \inmodule Synq
    \brief How a SyncEngine retries transactions whose persist failed.

    Every error is retried by default: \l maxRetries retries (4, so 5 attempts in all), the
    first after \l initialDelayMs, each next one \l multiplier times longer, never more than
    \l maxDelayMs, every delay moved at random by up to \l jitter of itself. A server's
    Retry-After is honoured when it asks for longer. Errors that are not retryable
    (SyncError::isRetryable() false: validation, 403, a persist rejection with
    \c{retryable: false}) fail at once. A transaction whose retries are used up, or that failed
    for good, is \c Failed: a dead letter that SyncEngine::retry() or SyncEngine::discard()
    settles.

    In QML it is a grouped property of SyncEngine:
    \qml
    SyncEngine {
        retryPolicy { maxRetries: 2; initialDelayMs: 10 }
    }
    \endqml
*/

class RetryPolicyPrivate
{
public:
    RetrySettings settings;
};

RetryPolicy::RetryPolicy(QObject *parent) : QObject(parent), d(new RetryPolicyPrivate) { }

RetryPolicy::~RetryPolicy() = default;

int RetryPolicy::maxRetries() const { return d->settings.maxRetries; }
int RetryPolicy::initialDelayMs() const { return d->settings.initialDelayMs; }
int RetryPolicy::maxDelayMs() const { return d->settings.maxDelayMs; }
double RetryPolicy::multiplier() const { return d->settings.multiplier; }
double RetryPolicy::jitter() const { return d->settings.jitter; }
const RetrySettings &RetryPolicy::settings() const { return d->settings; }

void RetryPolicy::setMaxRetries(int retries)
{
    retries = qMax(0, retries);
    if (d->settings.maxRetries == retries)
        return;
    d->settings.maxRetries = retries;
    Q_EMIT changed();
}

void RetryPolicy::setInitialDelayMs(int ms)
{
    ms = qMax(0, ms);
    if (d->settings.initialDelayMs == ms)
        return;
    d->settings.initialDelayMs = ms;
    Q_EMIT changed();
}

void RetryPolicy::setMaxDelayMs(int ms)
{
    ms = qMax(0, ms);
    if (d->settings.maxDelayMs == ms)
        return;
    d->settings.maxDelayMs = ms;
    Q_EMIT changed();
}

void RetryPolicy::setMultiplier(double multiplier)
{
    multiplier = qMax(1.0, multiplier);
    if (qFuzzyCompare(d->settings.multiplier, multiplier))
        return;
    d->settings.multiplier = multiplier;
    Q_EMIT changed();
}

void RetryPolicy::setJitter(double jitter)
{
    jitter = qBound(0.0, jitter, 1.0);
    if (qFuzzyCompare(1.0 + d->settings.jitter, 1.0 + jitter))
        return;
    d->settings.jitter = jitter;
    Q_EMIT changed();
}

} // namespace Synq
