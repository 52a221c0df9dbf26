// SPDX-License-Identifier: BSD-3-Clause
#include <synq/syncerror.h>

#include <QtCore/QMetaEnum>
#include <QtCore/QMetaProperty>
#include <QtCore/QSet>
#include <QtCore/QVariant>
#include <QtTest/QTest>

#include "testprinters.h"

#include <utility>

using namespace Synq;

class tst_SyncError : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaultIsNoError();
    void codes_data();
    void codeNameRoundTrip_data();
    void codeNameRoundTrip();
    void everyCodeIsCovered();
    void codeFromNameRejects_data();
    void codeFromNameRejects();
    void codeToNameOfAnUnknownCode_data();
    void codeToNameOfAnUnknownCode();
    void isRetryableByDefault_data();
    void isRetryableByDefault();
    void constructorFollowsTheCode_data();
    void constructorFollowsTheCode();
    void setters_data();
    void setters();
    void settersChain();
    void equality_data();
    void equality();
    void copySemantics();
    void moveSemantics();
    void toString_data();
    void toString();
    void gadgetProperties();
    void variantRoundTrip();
};

void tst_SyncError::defaultIsNoError()
{
    const SyncError error;
    QCOMPARE(error.code(), SyncError::None);
    QVERIFY(!error.isError());
    QCOMPARE(error.codeName(), QStringLiteral("None"));
    QCOMPARE(error.message(), QString());
    QCOMPARE(error.detail(), QString());
    QVERIFY(!error.isRetryable());
    QCOMPARE(error.httpStatus(), 0);
    QCOMPARE(error.transactionId(), QString());
    QCOMPARE(error.toString(), QStringLiteral("None"));
    QCOMPARE(error, SyncError());
    QCOMPARE(error, SyncError(SyncError::None, QString()));
}

// One row per code: the name it has in logs, QML and the database, and whether it is retried.
void tst_SyncError::codes_data()
{
    QTest::addColumn<SyncError::Code>("code");
    QTest::addColumn<QString>("name");
    QTest::addColumn<bool>("retryable");

    QTest::newRow("None means no error and is not retried")
            << SyncError::None << QStringLiteral("None") << false;
    QTest::newRow("Network errors are transient and retried")
            << SyncError::Network << QStringLiteral("Network") << true;
    QTest::newRow("Timeouts are transient and retried")
            << SyncError::Timeout << QStringLiteral("Timeout") << true;
    QTest::newRow("RateLimited is retried after waiting")
            << SyncError::RateLimited << QStringLiteral("RateLimited") << true;
    QTest::newRow("Unauthorized is retried after a token refresh")
            << SyncError::Unauthorized << QStringLiteral("Unauthorized") << true;
    QTest::newRow("Forbidden is final")
            << SyncError::Forbidden << QStringLiteral("Forbidden") << false;
    QTest::newRow("Validation is final")
            << SyncError::Validation << QStringLiteral("Validation") << false;
    QTest::newRow("Conflict goes to the conflict policy, not a retry")
            << SyncError::Conflict << QStringLiteral("Conflict") << false;
    QTest::newRow("Integrity is final")
            << SyncError::Integrity << QStringLiteral("Integrity") << false;
    QTest::newRow("Storage is final") << SyncError::Storage << QStringLiteral("Storage") << false;
    QTest::newRow("Protocol is final")
            << SyncError::Protocol << QStringLiteral("Protocol") << false;
    QTest::newRow("QueueFull is final")
            << SyncError::QueueFull << QStringLiteral("QueueFull") << false;
    QTest::newRow("Cancelled is final")
            << SyncError::Cancelled << QStringLiteral("Cancelled") << false;
}

void tst_SyncError::codeNameRoundTrip_data()
{
    codes_data();
}

void tst_SyncError::codeNameRoundTrip()
{
    QFETCH(SyncError::Code, code);
    QFETCH(QString, name);

    QCOMPARE(SyncError::codeToName(code), name);
    bool ok = false;
    QCOMPARE(SyncError::codeFromName(name, &ok), code);
    QVERIFY(ok);
    QCOMPARE(SyncError::codeFromName(name), code);
    QCOMPARE(SyncError::codeFromName(SyncError::codeToName(code)), code);
    QCOMPARE(SyncError(code, QStringLiteral("m")).codeName(), name);
}

void tst_SyncError::everyCodeIsCovered()
{
    // The table above must list every enumerator, and the enumerators must be 0..n-1.
    const QMetaEnum e = QMetaEnum::fromType<SyncError::Code>();
    QCOMPARE(e.keyCount(), 13);
    QSet<QString> names;
    for (int i = 0; i < e.keyCount(); ++i) {
        QCOMPARE(e.value(i), i);
        names.insert(QString::fromLatin1(e.key(i)));
        QCOMPARE(SyncError::codeToName(SyncError::Code(i)), QString::fromLatin1(e.key(i)));
    }
    QCOMPARE(names.size(), e.keyCount());
}

void tst_SyncError::codeFromNameRejects_data()
{
    QTest::addColumn<QString>("name");

    QTest::newRow("an empty name is not a code") << QString();
    QTest::newRow("a lowercase name is not a code") << QStringLiteral("network");
    QTest::newRow("an uppercase name is not a code") << QStringLiteral("NETWORK");
    QTest::newRow("a leading space is not part of a code") << QStringLiteral(" Network");
    QTest::newRow("a trailing space is not part of a code") << QStringLiteral("Network ");
    QTest::newRow("an unknown word is not a code") << QStringLiteral("Unknown");
    QTest::newRow("a number is not a code") << QStringLiteral("1");
    QTest::newRow("a combination of codes is not a code") << QStringLiteral("Network|Timeout");
    QTest::newRow("a non-Latin-1 name is not a code") << QStringLiteral(u"Netwörk😀");
}

void tst_SyncError::codeFromNameRejects()
{
    QFETCH(QString, name);

    bool ok = true;
    QCOMPARE(SyncError::codeFromName(name, &ok), SyncError::None);
    QVERIFY(!ok);
    QCOMPARE(SyncError::codeFromName(name), SyncError::None);
}

void tst_SyncError::codeToNameOfAnUnknownCode_data()
{
    QTest::addColumn<int>("value");

    QTest::newRow("one past the last code has no name") << 13;
    QTest::newRow("a large value has no name") << 1000;
    QTest::newRow("a negative value has no name") << -1;
}

void tst_SyncError::codeToNameOfAnUnknownCode()
{
    QFETCH(int, value);

    QCOMPARE(SyncError::codeToName(SyncError::Code(value)), QString());
    QVERIFY(!SyncError::isRetryableByDefault(SyncError::Code(value)));
}

void tst_SyncError::isRetryableByDefault_data()
{
    codes_data();
}

void tst_SyncError::isRetryableByDefault()
{
    QFETCH(SyncError::Code, code);
    QFETCH(bool, retryable);

    QCOMPARE(SyncError::isRetryableByDefault(code), retryable);
}

void tst_SyncError::constructorFollowsTheCode_data()
{
    codes_data();
}

void tst_SyncError::constructorFollowsTheCode()
{
    QFETCH(SyncError::Code, code);
    QFETCH(QString, name);
    QFETCH(bool, retryable);

    const SyncError error(code, QStringLiteral("Something failed"), QStringLiteral("HTTP 500"));
    QCOMPARE(error.code(), code);
    QCOMPARE(error.codeName(), name);
    QCOMPARE(error.isError(), code != SyncError::None);
    QCOMPARE(error.isRetryable(), retryable);
    QCOMPARE(error.message(), QStringLiteral("Something failed"));
    QCOMPARE(error.detail(), QStringLiteral("HTTP 500"));
    QCOMPARE(error.httpStatus(), 0);
    QCOMPARE(error.transactionId(), QString());

    const SyncError withoutDetail(code, QStringLiteral("m"));
    QCOMPARE(withoutDetail.detail(), QString());
}

void tst_SyncError::setters_data()
{
    QTest::addColumn<SyncError::Code>("code");
    QTest::addColumn<bool>("retryable");
    QTest::addColumn<int>("httpStatus");
    QTest::addColumn<QString>("transactionId");

    QTest::newRow("a validation error can be marked retryable by its source")
            << SyncError::Validation << true << 422 << QString();
    QTest::newRow("a network error can be marked final by its source")
            << SyncError::Network << false << 0 << QString();
    QTest::newRow("a rate limit carries its HTTP status")
            << SyncError::RateLimited << true << 429 << QString();
    QTest::newRow("a cancellation names the transaction that caused it")
            << SyncError::Cancelled << false << 0 << QStringLiteral("tx-123");
    QTest::newRow("a server error carries status and transaction")
            << SyncError::Network << true << 503 << QStringLiteral("0190f5a8");
}

void tst_SyncError::setters()
{
    QFETCH(SyncError::Code, code);
    QFETCH(bool, retryable);
    QFETCH(int, httpStatus);
    QFETCH(QString, transactionId);

    SyncError error(code, QStringLiteral("msg"), QStringLiteral("detail"));
    error.setRetryable(retryable);
    error.setHttpStatus(httpStatus);
    error.setTransactionId(transactionId);

    QCOMPARE(error.code(), code);
    QCOMPARE(error.message(), QStringLiteral("msg"));
    QCOMPARE(error.detail(), QStringLiteral("detail"));
    QCOMPARE(error.isRetryable(), retryable);
    QCOMPARE(error.httpStatus(), httpStatus);
    QCOMPARE(error.transactionId(), transactionId);
}

void tst_SyncError::settersChain()
{
    SyncError error(SyncError::Network, QStringLiteral("offline"));
    SyncError &chained =
            error.setHttpStatus(503).setTransactionId(QStringLiteral("t1")).setRetryable(false);
    QCOMPARE(&chained, &error);
    QCOMPARE(error.httpStatus(), 503);
    QCOMPARE(error.transactionId(), QStringLiteral("t1"));
    QVERIFY(!error.isRetryable());
}

void tst_SyncError::equality_data()
{
    QTest::addColumn<SyncError>("a");
    QTest::addColumn<SyncError>("b");
    QTest::addColumn<bool>("equal");

    const SyncError base = SyncError(SyncError::Validation, QStringLiteral("bad"),
                                     QStringLiteral("title empty"))
                                   .setHttpStatus(400)
                                   .setTransactionId(QStringLiteral("tx"));
    auto changed = [&](auto change) {
        SyncError copy = base;
        change(copy);
        return copy;
    };

    QTest::newRow("two default errors are equal") << SyncError() << SyncError() << true;
    QTest::newRow("an error equals itself") << base << base << true;
    QTest::newRow("separately built errors with the same fields are equal")
            << base
            << SyncError(SyncError::Validation, QStringLiteral("bad"), QStringLiteral("title empty"))
                       .setHttpStatus(400)
                       .setTransactionId(QStringLiteral("tx"))
            << true;
    QTest::newRow("a different code is unequal")
            << base
            << SyncError(SyncError::Forbidden, QStringLiteral("bad"), QStringLiteral("title empty"))
                       .setHttpStatus(400)
                       .setTransactionId(QStringLiteral("tx"))
            << false;
    QTest::newRow("a different message is unequal")
            << base
            << SyncError(SyncError::Validation, QStringLiteral("Bad"), QStringLiteral("title empty"))
                       .setHttpStatus(400)
                       .setTransactionId(QStringLiteral("tx"))
            << false;
    QTest::newRow("a different detail is unequal")
            << base
            << SyncError(SyncError::Validation, QStringLiteral("bad"), QString())
                       .setHttpStatus(400)
                       .setTransactionId(QStringLiteral("tx"))
            << false;
    QTest::newRow("a different retryable flag is unequal")
            << base << changed([](SyncError &e) { e.setRetryable(true); }) << false;
    QTest::newRow("a different HTTP status is unequal")
            << base << changed([](SyncError &e) { e.setHttpStatus(422); }) << false;
    QTest::newRow("a different transaction id is unequal")
            << base << changed([](SyncError &e) { e.setTransactionId(QString()); }) << false;
    QTest::newRow("a default error and a None error with a message are unequal")
            << SyncError() << SyncError(SyncError::None, QStringLiteral("x")) << false;
    QTest::newRow("setting a field back to its old value makes it equal again")
            << base
            << changed([](SyncError &e) { e.setHttpStatus(500).setHttpStatus(400); })
            << true;
}

void tst_SyncError::equality()
{
    QFETCH(SyncError, a);
    QFETCH(SyncError, b);
    QFETCH(bool, equal);

    QCOMPARE(a == b, equal);
    QCOMPARE(b == a, equal);
    QCOMPARE(a != b, !equal);
    QCOMPARE(b != a, !equal);
}

void tst_SyncError::copySemantics()
{
    SyncError original(SyncError::Storage, QStringLiteral("disk full"), QStringLiteral("SQLITE_FULL"));
    original.setTransactionId(QStringLiteral("t1"));

    // A copy is equal, and changing it leaves the original alone (and the other way round).
    SyncError copy(original);
    QCOMPARE(copy, original);
    copy.setHttpStatus(507).setRetryable(true).setTransactionId(QStringLiteral("t2"));
    QCOMPARE(original.httpStatus(), 0);
    QVERIFY(!original.isRetryable());
    QCOMPARE(original.transactionId(), QStringLiteral("t1"));
    QCOMPARE(copy.httpStatus(), 507);
    QVERIFY(copy != original);

    SyncError assigned;
    assigned = original;
    QCOMPARE(assigned, original);
    original.setHttpStatus(1);
    QCOMPARE(assigned.httpStatus(), 0);
    QCOMPARE(assigned.message(), QStringLiteral("disk full"));

    // Self-assignment keeps the value.
    SyncError &self = assigned;
    assigned = self;
    QCOMPARE(assigned.code(), SyncError::Storage);
    QCOMPARE(assigned.detail(), QStringLiteral("SQLITE_FULL"));
}

void tst_SyncError::moveSemantics()
{
    SyncError source = SyncError(SyncError::Timeout, QStringLiteral("slow")).setHttpStatus(504);
    const SyncError expected = source;

    SyncError moved(std::move(source));
    QCOMPARE(moved, expected);

    SyncError target(SyncError::Protocol, QStringLiteral("old"));
    target = std::move(moved);
    QCOMPARE(target, expected);
    QCOMPARE(target.httpStatus(), 504);
    QVERIFY(target.isRetryable());
}

void tst_SyncError::toString_data()
{
    QTest::addColumn<SyncError>("error");
    QTest::addColumn<QString>("expected");

    QTest::newRow("no error reads None") << SyncError() << QStringLiteral("None");
    QTest::newRow("a None code reads None even with a message")
            << SyncError(SyncError::None, QStringLiteral("ignored"), QStringLiteral("too"))
            << QStringLiteral("None");
    QTest::newRow("code and message without detail")
            << SyncError(SyncError::Network, QStringLiteral("Host unreachable"))
            << QStringLiteral("Network: Host unreachable");
    QTest::newRow("code, message and detail in parentheses")
            << SyncError(SyncError::Validation, QStringLiteral("Title is required"),
                         QStringLiteral("field=title"))
            << QStringLiteral("Validation: Title is required (field=title)");
    QTest::newRow("HTTP status and transaction are not part of the one-liner")
            << SyncError(SyncError::RateLimited, QStringLiteral("Slow down"))
                       .setHttpStatus(429)
                       .setTransactionId(QStringLiteral("tx"))
            << QStringLiteral("RateLimited: Slow down");
    QTest::newRow("non-ASCII text is kept")
            << SyncError(SyncError::Conflict, QStringLiteral(u"Änderung"), QStringLiteral(u"κλειδί"))
            << QStringLiteral(u"Conflict: Änderung (κλειδί)");
}

void tst_SyncError::toString()
{
    QFETCH(SyncError, error);
    QFETCH(QString, expected);

    QCOMPARE(error.toString(), expected);
}

void tst_SyncError::gadgetProperties()
{
    // QML reads the error through its gadget properties.
    const SyncError error = SyncError(SyncError::Unauthorized, QStringLiteral("Sign in again"),
                                      QStringLiteral("token expired"))
                                    .setHttpStatus(401)
                                    .setTransactionId(QStringLiteral("tx-9"));
    const QMetaObject &mo = SyncError::staticMetaObject;
    const auto read = [&](const char *name) {
        const int index = mo.indexOfProperty(name);
        return index < 0 ? QVariant() : mo.property(index).readOnGadget(&error);
    };

    QCOMPARE(read("code").toInt(), int(SyncError::Unauthorized));
    QCOMPARE(read("codeName").toString(), QStringLiteral("Unauthorized"));
    QCOMPARE(read("message").toString(), QStringLiteral("Sign in again"));
    QCOMPARE(read("detail").toString(), QStringLiteral("token expired"));
    QCOMPARE(read("retryable").toBool(), true);
    QCOMPARE(read("httpStatus").toInt(), 401);
    QCOMPARE(read("transactionId").toString(), QStringLiteral("tx-9"));
    QCOMPARE(read("isError").toBool(), true);
    QCOMPARE(read("isError").metaType(), QMetaType::fromType<bool>());
}

void tst_SyncError::variantRoundTrip()
{
    const SyncError error = SyncError(SyncError::QueueFull, QStringLiteral("Outbox full"))
                                    .setTransactionId(QStringLiteral("t"));
    const QVariant variant = QVariant::fromValue(error);
    QCOMPARE(variant.metaType(), QMetaType::fromType<SyncError>());
    QCOMPARE(variant.value<SyncError>(), error);
    QVERIFY(variant.value<SyncError>() != SyncError());
}

QTEST_GUILESS_MAIN(tst_SyncError)
#include "tst_syncerror.moc"
