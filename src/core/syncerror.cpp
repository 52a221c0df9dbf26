// SPDX-License-Identifier: BSD-3-Clause
#include <synq/syncerror.h>

#include <QtCore/QMetaEnum>

namespace Synq {

class SyncErrorData : public QSharedData
{
public:
    SyncError::Code code = SyncError::None;
    QString message;
    QString detail;
    bool retryable = false;
    int httpStatus = 0;
    QString transactionId;
    int retryAfterMs = -1;
};

/*!
    \class Synq::SyncError
    \inmodule Synq
    \brief A value describing why something Synq did failed.

    Every failure in Synq, local or remote, is reported as a SyncError: a code, a translated
    user-readable message(), a technical detail() for logs, whether the failed work is retried,
    the HTTP status behind it (if any) and, for failures caused by another transaction, that
    transaction's id.

    A default-constructed SyncError has code None and means "no error".

    In QML the value is available as \c syncError, and its codes as \c{SyncError.Validation} etc.
*/

// "No error" is by far the most common value (one per row and transaction): all of them share
// one data block until one is changed.
static const QSharedDataPointer<SyncErrorData> &noError()
{
    static const QSharedDataPointer<SyncErrorData> shared(new SyncErrorData);
    return shared;
}

SyncError::SyncError() : d(noError()) { }

SyncError::SyncError(Code code, const QString &message, const QString &detail)
    : d(new SyncErrorData)
{
    d->code = code;
    d->message = message;
    d->detail = detail;
    d->retryable = isRetryableByDefault(code);
}

SyncError::SyncError(const SyncError &other) = default;
SyncError::SyncError(SyncError &&other) noexcept = default;
SyncError &SyncError::operator=(const SyncError &other) = default;
SyncError &SyncError::operator=(SyncError &&other) noexcept = default;
SyncError::~SyncError() = default;

SyncError::Code SyncError::code() const { return d->code; }
QString SyncError::codeName() const { return codeToName(d->code); }
QString SyncError::message() const { return d->message; }
QString SyncError::detail() const { return d->detail; }
bool SyncError::isRetryable() const { return d->retryable; }
int SyncError::httpStatus() const { return d->httpStatus; }
QString SyncError::transactionId() const { return d->transactionId; }
int SyncError::retryAfterMs() const { return d->retryAfterMs; }

SyncError &SyncError::setRetryAfterMs(int ms)
{
    d->retryAfterMs = ms;
    return *this;
}

SyncError &SyncError::setRetryable(bool retryable)
{
    d->retryable = retryable;
    return *this;
}

SyncError &SyncError::setHttpStatus(int status)
{
    d->httpStatus = status;
    return *this;
}

SyncError &SyncError::setTransactionId(const QString &id)
{
    d->transactionId = id;
    return *this;
}

/*!
    Returns whether errors with \a code are retried unless the source says otherwise:
    transient conditions (network, timeout, rate limiting, an expired token) are; validation,
    permission, storage and protocol errors are not.
*/
bool SyncError::isRetryableByDefault(Code code)
{
    switch (code) {
    case Network:
    case Timeout:
    case RateLimited:
    case Unauthorized:
        return true;
    case None:
    case Forbidden:
    case Validation:
    case Conflict:
    case Integrity:
    case Storage:
    case Protocol:
    case QueueFull:
    case Cancelled:
        return false;
    }
    return false;
}

QString SyncError::codeToName(Code code)
{
    const QMetaEnum e = QMetaEnum::fromType<Code>();
    const char *key = e.valueToKey(code);
    return key ? QString::fromLatin1(key) : QString();
}

SyncError::Code SyncError::codeFromName(const QString &name, bool *ok)
{
    const QMetaEnum e = QMetaEnum::fromType<Code>();
    bool found = false;
    const int value = e.keyToValue(name.toLatin1().constData(), &found);
    if (ok)
        *ok = found;
    return found ? Code(value) : None;
}

bool SyncError::operator==(const SyncError &other) const
{
    return d == other.d
            || (d->code == other.d->code && d->message == other.d->message
                && d->detail == other.d->detail && d->retryable == other.d->retryable
                && d->httpStatus == other.d->httpStatus
                && d->transactionId == other.d->transactionId
                && d->retryAfterMs == other.d->retryAfterMs);
}

QString SyncError::toString() const
{
    if (!isError())
        return QStringLiteral("None");
    QString s = codeName() + QLatin1String(": ") + d->message;
    if (!d->detail.isEmpty())
        s += QLatin1String(" (") + d->detail + QLatin1Char(')');
    return s;
}

} // namespace Synq
