// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCERROR_H
#define SYNQ_SYNCERROR_H

#include <synq/synq_export.h>

#include <QtCore/QMetaType>
#include <QtCore/QObject>
#include <QtCore/QSharedDataPointer>
#include <QtCore/QString>

namespace Synq {

class SyncErrorData;

class SYNQ_EXPORT SyncError
{
    Q_GADGET
    Q_PROPERTY(Synq::SyncError::Code code READ code CONSTANT FINAL)
    Q_PROPERTY(QString codeName READ codeName CONSTANT FINAL)
    Q_PROPERTY(QString message READ message CONSTANT FINAL)
    Q_PROPERTY(QString detail READ detail CONSTANT FINAL)
    Q_PROPERTY(bool retryable READ isRetryable CONSTANT FINAL)
    Q_PROPERTY(int httpStatus READ httpStatus CONSTANT FINAL)
    Q_PROPERTY(QString transactionId READ transactionId CONSTANT FINAL)
    Q_PROPERTY(bool isError READ isError CONSTANT FINAL)
    Q_PROPERTY(int retryAfterMs READ retryAfterMs CONSTANT FINAL)

public:
    enum Code {
        None,
        Network,
        Timeout,
        RateLimited,
        Unauthorized,
        Forbidden,
        Validation,
        Conflict,
        Integrity,
        Storage,
        Protocol,
        QueueFull,
        Cancelled,
    };
    Q_ENUM(Code)

    SyncError();
    SyncError(Code code, const QString &message, const QString &detail = QString());
    SyncError(const SyncError &other);
    SyncError(SyncError &&other) noexcept;
    SyncError &operator=(const SyncError &other);
    SyncError &operator=(SyncError &&other) noexcept;
    ~SyncError();

    Code code() const;
    QString codeName() const;
    QString message() const;
    QString detail() const;
    bool isRetryable() const;
    int httpStatus() const;
    QString transactionId() const;
    // How long the server asked to wait before the next request (Retry-After), -1 if it did not.
    int retryAfterMs() const;
    bool isError() const { return code() != None; }

    SyncError &setRetryable(bool retryable);
    SyncError &setHttpStatus(int status);
    SyncError &setTransactionId(const QString &id);
    SyncError &setRetryAfterMs(int ms);

    static bool isRetryableByDefault(Code code);
    static QString codeToName(Code code);
    static Code codeFromName(const QString &name, bool *ok = nullptr);

    bool operator==(const SyncError &other) const;
    bool operator!=(const SyncError &other) const { return !(*this == other); }

    // Human-readable one-liner for logs: "Validation: message (detail)".
    QString toString() const;

private:
    QSharedDataPointer<SyncErrorData> d;
};

} // namespace Synq

Q_DECLARE_METATYPE(Synq::SyncError)

#endif
