// SPDX-License-Identifier: BSD-3-Clause
#include <synq/retrypolicy.h>

#include <QtCore/QtGlobal>

namespace Synq {

/*!
    \class Synq::RetryPolicy
    \inmodule Synq
    \brief How a SyncEngine retries transactions whose persist failed (T5).

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

RetryPolicy::RetryPolicy(QObject *parent) : QObject(parent) { }

void RetryPolicy::setMaxRetries(int retries)
{
    retries = qMax(0, retries);
    if (m_settings.maxRetries == retries)
        return;
    m_settings.maxRetries = retries;
    Q_EMIT changed();
}

void RetryPolicy::setInitialDelayMs(int ms)
{
    ms = qMax(0, ms);
    if (m_settings.initialDelayMs == ms)
        return;
    m_settings.initialDelayMs = ms;
    Q_EMIT changed();
}

void RetryPolicy::setMaxDelayMs(int ms)
{
    ms = qMax(0, ms);
    if (m_settings.maxDelayMs == ms)
        return;
    m_settings.maxDelayMs = ms;
    Q_EMIT changed();
}

void RetryPolicy::setMultiplier(double multiplier)
{
    multiplier = qMax(1.0, multiplier);
    if (qFuzzyCompare(m_settings.multiplier, multiplier))
        return;
    m_settings.multiplier = multiplier;
    Q_EMIT changed();
}

void RetryPolicy::setJitter(double jitter)
{
    jitter = qBound(0.0, jitter, 1.0);
    if (qFuzzyCompare(1.0 + m_settings.jitter, 1.0 + jitter))
        return;
    m_settings.jitter = jitter;
    Q_EMIT changed();
}

} // namespace Synq
