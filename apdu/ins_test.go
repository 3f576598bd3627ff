package apdu

import "testing"

func TestInsName(t *testing.T) {
	tests := []struct {
		ins  byte
		want string
	}{
		{InsSelect, "SELECT"},
		{InsReadRecord, "READ RECORD"},
		{InsVerify, "VERIFY"},
		{InsGetResponse, "GET RESPONSE"},
		{InsGetDataOdd, "GET DATA"},
		{InsGetData, "GET DATA (CA)"},
		{InsPutDataOdd, "PUT DATA"},
		{InsGenerateKeyPair, "GENERATE ASYMMETRIC KEY PAIR"},
		{InsGenerateKeyPairOdd, "GENERATE ASYMMETRIC KEY PAIR"},
		{InsPerformSecurityOperation, "PERFORM SECURITY OPERATION"},
		{InsManageSecurityEnvironment, "MANAGE SECURITY ENVIRONMENT"},
		{InsCreateFile, "CREATE FILE"},
		{InsDeleteFile, "DELETE FILE"},
		{InsGetMetadata, "GET METADATA"},
		{InsSetManagementKey, "SET MANAGEMENT KEY"},
		{InsReadConfig, "READ CONFIG"},
		{InsOATHCalculate, "CALCULATE (YKOATH)"},
		{InsOATHCalculateAll, "SELECT"},
		{0xEE, "INS EE"},
		{0x00, "INS 00"},
	}
	for _, tt := range tests {
		if got := InsName(tt.ins); got != tt.want {
			t.Errorf("InsName(%02X) = %q, want %q", tt.ins, got, tt.want)
		}
	}
}

// TestInsNameEveryConstant checks that every instruction constant has a
// name of its own, not the hex fallback.
func TestInsNameEveryConstant(t *testing.T) {
	for _, ins := range []byte{
		InsVerify, InsManageSecurityEnvironment, InsChangeReferenceData, InsPerformSecurityOperation,
		InsResetRetryCounter, InsGenerateKeyPair, InsGenerateKeyPairOdd, InsGetChallenge,
		InsGeneralAuthenticate, InsSelect, InsReadBinary, InsReadRecord, InsGetResponse, InsGetData, InsGetDataOdd,
		InsUpdateBinary, InsPutData, InsPutDataOdd, InsCreateFile, InsDeleteFile,
		InsMoveKey, InsGetMetadata, InsGetSerial, InsAttest, InsSetPINRetries, InsResetPIV,
		InsGetVersion, InsImportKey, InsSetManagementKey, InsReadConfig, InsWriteConfig,
		InsOATHPut, InsOATHDelete, InsOATHSetCode, InsOATHReset, InsOATHRename,
		InsOATHList, InsOATHCalculate, InsOATHValidate, InsOATHCalculateAll, InsOATHSendRemaining,
	} {
		if got := InsName(ins); got == "" || got[:4] == "INS " {
			t.Errorf("InsName(%02X) = %q, want a command name", ins, got)
		}
	}
}
