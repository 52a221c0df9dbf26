// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TESTS_TESTPRINTERS_H
#define SYNQ_TESTS_TESTPRINTERS_H

// Readable QCOMPARE failure messages for Synq's values and JSON (found by argument-dependent
// lookup: each toString() lives in the namespace of the type it prints).

#include <synq/syncerror.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QJsonValue>
#include <QtTest/QTest>

namespace Synq {

// Everything an error carries beyond its text: "Validation: ... retryable=0 http=400 ...".
inline QString describe(const SyncError &e)
{
    return QStringLiteral("%1 retryable=%2 http=%3 retryAfter=%4 tx=%5")
            .arg(e.toString())
            .arg(e.isRetryable())
            .arg(e.httpStatus())
            .arg(e.retryAfterMs())
            .arg(e.transactionId());
}

inline char *toString(const SyncError &error)
{
    return QTest::toString(describe(error));
}

} // namespace Synq

inline char *toString(const QJsonObject &object)
{
    return QTest::toString(QJsonDocument(object).toJson(QJsonDocument::Compact));
}

inline char *toString(const QJsonValue &value)
{
    return QTest::toString(QJsonDocument(QJsonArray { value }).toJson(QJsonDocument::Compact));
}

#endif
