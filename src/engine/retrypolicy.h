// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_RETRYPOLICY_H
#define SYNQ_RETRYPOLICY_H

#include <synq/backoff.h>
#include <synq/synq_export.h>

#include <QtCore/QObject>

#include <memory>

namespace Synq {

class RetryPolicyPrivate;

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
    ~RetryPolicy() override;

    int maxRetries() const;
    void setMaxRetries(int retries);
    int initialDelayMs() const;
    void setInitialDelayMs(int ms);
    int maxDelayMs() const;
    void setMaxDelayMs(int ms);
    double multiplier() const;
    void setMultiplier(double multiplier);
    double jitter() const;
    void setJitter(double jitter);

    const RetrySettings &settings() const;

Q_SIGNALS:
    void changed();

private:
    std::unique_ptr<RetryPolicyPrivate> d;
};

} // namespace Synq

#endif
