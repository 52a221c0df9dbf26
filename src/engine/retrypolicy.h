// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_RETRYPOLICY_H
#define SYNQ_RETRYPOLICY_H

#include <synq/backoff.h>
#include <synq/synq_export.h>

#include <QtCore/QObject>

namespace Synq {

class SYNQ_EXPORT RetryPolicy : public QObject
{
    Q_OBJECT
    Q_PROPERTY(int maxRetries READ maxRetries WRITE setMaxRetries NOTIFY changed FINAL)
    Q_PROPERTY(int initialDelayMs READ initialDelayMs WRITE setInitialDelayMs NOTIFY changed FINAL)
    Q_PROPERTY(int maxDelayMs READ maxDelayMs WRITE setMaxDelayMs NOTIFY changed FINAL)
    Q_PROPERTY(double multiplier READ multiplier WRITE setMultiplier NOTIFY changed FINAL)
    Q_PROPERTY(double jitter READ jitter WRITE setJitter NOTIFY changed FINAL)

public:
    explicit RetryPolicy(QObject *parent = nullptr);

    int maxRetries() const { return m_settings.maxRetries; }
    void setMaxRetries(int retries);
    int initialDelayMs() const { return m_settings.initialDelayMs; }
    void setInitialDelayMs(int ms);
    int maxDelayMs() const { return m_settings.maxDelayMs; }
    void setMaxDelayMs(int ms);
    double multiplier() const { return m_settings.multiplier; }
    void setMultiplier(double multiplier);
    double jitter() const { return m_settings.jitter; }
    void setJitter(double jitter);

    const RetrySettings &settings() const { return m_settings; }

Q_SIGNALS:
    void changed();

private:
    RetrySettings m_settings;
};

} // namespace Synq

#endif
